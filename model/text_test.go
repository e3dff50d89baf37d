package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cypaykit/kit/model"
)

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want string // a substring of the error; "" means valid
	}{
		{"", ""},
		{"buyer changed their mind", ""},
		{"退款：买家取消订单", ""},
		{strings.Repeat("a", 64), ""},
		{strings.Repeat("a", 65), "longer than 64 bytes"},
		{strings.Repeat("退", 22), "longer than 64 bytes"},
		{"a\x00b", "control character"},
		{"line\nbreak", "control character"},
		{"tab\there", "control character"},
		{"del\x7f", "control character"},
		{"c1\u0085", "control character"},
		{"bad\xffutf8", "not valid UTF-8"},
	}
	for _, tc := range tests {
		err := model.CheckText("reason", tc.s, 64)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckText(%q): got %v, want nil", tc.s, err)
		case tc.want != "" && (!errors.Is(err, model.ErrText) || !strings.Contains(err.Error(), "reason") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckText(%q): got %v, want ErrText naming reason, %q", tc.s, err, tc.want)
		case tc.want != "" && strings.Contains(err.Error(), tc.s):
			t.Errorf("CheckText(%q): the error %q echoes the value", tc.s, err)
		}
	}
}
