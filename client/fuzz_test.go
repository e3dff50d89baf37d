package client

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseReply feeds arbitrary bodies to the reply parser: it must not
// panic, must never return two names that differ only in letter case, and
// must agree with encoding/json on objects whose members are all strings.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"state":"SUCCESS","code":"10000","trade_state":"SUCCESS","sign":"ABC"}`,
		`{"state":"FAIL","code":20004,"msg":null,"ok":true,"list":[{"a":1}]}`,
		`{"state":"FAIL","State":"SUCCESS"}`,
		`{"a":"\u00e9\ud83d\ude00"} `,
		`[]`, `{`, `{"a":"b"}{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseReply(body)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for k := range got {
			if seen[strings.ToLower(k)] {
				t.Fatalf("parseReply(%q) returned %q twice in different cases", body, k)
			}
			seen[strings.ToLower(k)] = true
		}
		var want map[string]string
		if json.Unmarshal(body, &want) != nil || want == nil {
			return
		}
		if len(want) != len(got) {
			t.Fatalf("parseReply(%q): got %d members, encoding/json %d", body, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("parseReply(%q)[%q]: got %q, encoding/json %q", body, k, got[k], v)
			}
		}
	})
}
