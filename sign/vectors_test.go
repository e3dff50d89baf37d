package sign_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

// vector is one case of testdata/sign-vectors.json, computed by an
// independent reference implementation (docs/protocol.md section 2.4).
type vector struct {
	Name         string            `json:"name"`
	Params       map[string]string `json:"params"`
	Key          string            `json:"key"`
	StringToSign string            `json:"string_to_sign"`
	Sign         map[string]string `json:"sign"`
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	raw, err := os.ReadFile("testdata/sign-vectors.json")
	if err != nil {
		tb.Fatalf("read vectors: %v", err)
	}
	var file struct {
		Cases []vector `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		tb.Fatalf("parse vectors: %v", err)
	}
	if len(file.Cases) == 0 {
		tb.Fatal("no vectors in testdata/sign-vectors.json")
	}
	return file.Cases
}

func vectorNamed(tb testing.TB, name string) vector {
	tb.Helper()
	for _, v := range loadVectors(tb) {
		if v.Name == name {
			return v
		}
	}
	tb.Fatalf("no vector named %q", name)
	return vector{}
}

func toValues(m map[string]string) url.Values {
	v := make(url.Values, len(m))
	for k, s := range m {
		v[k] = []string{s}
	}
	return v
}

// withSign copies params without any sign-like name and adds sign=s.
func withSign(params map[string]string, s string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for k, v := range params {
		if !strings.EqualFold(k, sign.Param) {
			out[k] = v
		}
	}
	out[sign.Param] = s
	return out
}

func countSignNames(params map[string]string) int {
	n := 0
	for k := range params {
		if strings.EqualFold(k, sign.Param) {
			n++
		}
	}
	return n
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			values := toValues(vec.Params)

			got, err := sign.StringToSign(values, vec.Key)
			if err != nil {
				t.Fatalf("StringToSign: %v", err)
			}
			if got != vec.StringToSign {
				t.Errorf("StringToSign:\n got %s\nwant %s", got, vec.StringToSign)
			}

			if len(vec.Sign) == 0 {
				t.Fatal("vector lists no algorithm")
			}
			for name, want := range vec.Sign {
				alg, err := sign.ParseAlgorithm(name)
				if err != nil {
					t.Fatalf("ParseAlgorithm(%q): %v", name, err)
				}
				if got, err := sign.Sign(values, vec.Key, alg); err != nil || got != want {
					t.Errorf("Sign %s: got %q, %v; want %q", name, got, err, want)
				}
				if got, err := sign.SignMap(vec.Params, vec.Key, alg); err != nil || got != want {
					t.Errorf("SignMap %s: got %q, %v; want %q", name, got, err, want)
				}

				for _, s := range []string{want, strings.ToLower(want)} {
					p := withSign(vec.Params, s)
					if err := sign.Verify(toValues(p), alg, vec.Key); err != nil {
						t.Errorf("Verify %s with sign %s: got %v, want nil", name, s, err)
					}
					if err := sign.VerifyMap(p, alg, vec.Key); err != nil {
						t.Errorf("VerifyMap %s with sign %s: got %v, want nil", name, s, err)
					}
				}
			}

			// A vector that carries two sign-like names (sign and SIGN) is
			// signable, since Sign ignores both, but ambiguous to verify.
			if countSignNames(vec.Params) > 1 {
				if err := sign.Verify(values, sign.MD5, vec.Key); !errors.Is(err, sign.ErrMalformed) {
					t.Errorf("Verify with %d sign names: got %v, want ErrMalformed", countSignNames(vec.Params), err)
				}
				if err := sign.VerifyMap(vec.Params, sign.MD5, vec.Key); !errors.Is(err, sign.ErrMalformed) {
					t.Errorf("VerifyMap with %d sign names: got %v, want ErrMalformed", countSignNames(vec.Params), err)
				}
			}
		})
	}
}

// TestVectorsCoverAmbiguousSign keeps the sign+SIGN case from silently
// disappearing from the vector file.
func TestVectorsCoverAmbiguousSign(t *testing.T) {
	t.Parallel()
	vec := vectorNamed(t, "empty-whitespace-and-sign-excluded")
	if n := countSignNames(vec.Params); n != 2 {
		t.Fatalf("got %d sign-like names in the vector, want 2", n)
	}
}
