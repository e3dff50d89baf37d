package main

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseFen(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1": 1, "1250": 1250, "12.50": 1250, "0.01": 1, "0.10": 10, "18.00": 1800, "007": 7,
		"999999999999": 999999999999, "999999999999.99": 99999999999999,
	} {
		if got, err := parseFen(in); err != nil || got != want {
			t.Errorf("parseFen(%q): got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", ".50", "12.", "12.5", "12.505", "12,50", "1e3", "-1", "+1", " 1", "1 ", "¥12.50", "12.5O", "１２", "0x10", "1000000000000"} {
		if got, err := parseFen(in); !errors.Is(err, errAmountFormat) {
			t.Errorf("parseFen(%q): got %d, %v; want errAmountFormat", in, got, err)
		}
	}
}

func TestFenAmountJSON(t *testing.T) {
	for in, want := range map[string]int64{`1250`: 1250, `"12.50"`: 1250, `"1250"`: 1250, `-1`: -1, `0`: 0} {
		var a fenAmount
		if err := json.Unmarshal([]byte(in), &a); err != nil || int64(a) != want {
			t.Errorf("%s: got %d, %v; want %d", in, a, err, want)
		}
	}
	for _, in := range []string{`12.5`, `1e3`, `null`, `true`, `"12.5"`, `[]`, `1250.00`, `-`, `99999999999999999999`} {
		var a fenAmount
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("%s: got %d, want an error", in, a)
		}
	}
}

func TestFormatYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 1: "0.01", 10: "0.10", 1250: "12.50", 1800: "18.00", -5: "-0.05"} {
		if got := formatYuan(fen); got != want {
			t.Errorf("formatYuan(%d): got %q, want %q", fen, got, want)
		}
	}
}
