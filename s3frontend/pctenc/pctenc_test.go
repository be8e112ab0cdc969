package pctenc

import (
	"errors"
	"testing"
)

func TestAppendDecoded(t *testing.T) {
	tests := []struct {
		in, want string
		plus     bool
		err      error
	}{
		{"a%20b", "a b", false, nil},
		{"a+b", "a+b", false, nil},
		{"a+b", "a b", true, nil},
		{"%2f%2F", "//", false, nil},
		{"%", "", false, ErrBadEscape},
		{"%4", "", false, ErrBadEscape},
		{"%zz", "", false, ErrBadEscape},
		{"%e6%97%a5", "日", false, nil},
	}
	for _, tt := range tests {
		got, err := AppendDecoded(nil, []byte(tt.in), tt.plus)
		if !errors.Is(err, tt.err) || (err == nil && string(got) != tt.want) {
			t.Errorf("AppendDecoded(%q, %v) = %q, %v; want %q, %v", tt.in, tt.plus, got, err, tt.want, tt.err)
		}
	}
}
