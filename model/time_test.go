package model_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
)

// TestTimeIgnoresLocal sets TZ and time.Local to zones far from GMT+8 and
// checks that parsing and formatting do not move.
func TestTimeIgnoresLocal(t *testing.T) {
	t.Setenv("TZ", "Pacific/Chatham")
	saved := time.Local
	time.Local = time.FixedZone("odd", -(9*3600 + 45*60))
	t.Cleanup(func() { time.Local = saved })

	tests := []struct {
		in   string
		want time.Time
	}{
		{"20180417094729", time.Date(2018, 4, 17, 1, 47, 29, 0, time.UTC)},
		{"2019-05-24 11:11:33", time.Date(2019, 5, 24, 3, 11, 33, 0, time.UTC)},
		{"20240101000000", time.Date(2023, 12, 31, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := model.ParseTime(tt.in)
		if err != nil {
			t.Fatalf("ParseTime(%q): %v", tt.in, err)
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q): got %v, want %v", tt.in, got.UTC(), tt.want)
		}
		if _, off := got.Zone(); off != 8*3600 {
			t.Errorf("ParseTime(%q): offset %d, want GMT+8", tt.in, off)
		}
	}

	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2018, 4, 17, 1, 47, 29, 0, time.UTC), "20180417094729"},
		{time.Date(2023, 12, 31, 16, 0, 0, 0, time.UTC), "20240101000000"},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.Local), "20240101174500"},
		{time.Date(2024, 1, 1, 8, 0, 0, 999, model.Beijing), "20240101080000"},
	} {
		if got := model.FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "2018041709472", "201804170947290", "20181317094729", "20180230094729",
		"2018-04-17T09:47:29", "2018/04/17 09:47:29", "abcdefghijklmn", "2019-05-24 25:11:33",
	} {
		_, err := model.ParseTime(in)
		if err == nil {
			t.Errorf("ParseTime(%q): got nil, want an error", in)
			continue
		}
		if !strings.HasPrefix(err.Error(), "model: ") {
			t.Errorf("ParseTime(%q): error %q lacks the package prefix", in, err)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"20000229235959", "20991231000000", "19700101080000"} {
		tm, err := model.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := model.FormatTime(tm); got != s {
			t.Errorf("FormatTime(ParseTime(%s)): got %s", s, got)
		}
	}
}

// TestParseCompactAgreesWithTimeParse: the fast yyyyMMddHHmmss reader
// accepts and returns exactly what time.ParseInLocation does.
func TestParseCompactAgreesWithTimeParse(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"20260501120000", "20240229235959", "20230229000000", "20261301000000", "20260001000000",
		"20260431000000", "20260430000000", "20260100000000", "20260101240000", "20260101236000",
		"20260101235960", "00000101000000", "99991231235959", "2026050112000a", "2026050112000",
		"202605011200000", "+0260501120000", "20260501 12000", "19000229000000", "20000229000000",
	}
	for _, s := range inputs {
		want, werr := time.ParseInLocation(model.TimeLayout, s, model.Beijing)
		got, gerr := model.ParseTime(s)
		if (werr == nil) != (gerr == nil) || !got.Equal(want) || (gerr == nil && got.Location() != model.Beijing) {
			t.Errorf("ParseTime(%q): got %v, %v; time.ParseInLocation says %v, %v", s, got, gerr, want, werr)
		}
	}
}
