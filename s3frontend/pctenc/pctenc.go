// Package pctenc decodes the percent-escapes of URL paths and queries into caller buffers,
// without allocating: the router and the signature verifier both need it, on every request.
package pctenc

import "errors"

// ErrBadEscape reports a '%' not followed by two hex digits.
var ErrBadEscape = errors.New("malformed percent-escape")

// AppendDecoded appends src with its percent-escapes decoded to dst; with plusIsSpace, '+'
// decodes to ' ' as in a form-encoded query.
func AppendDecoded(dst, src []byte, plusIsSpace bool) ([]byte, error) {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '%':
			if i+2 >= len(src) {
				return dst, ErrBadEscape
			}
			hi, ok1 := Unhex(src[i+1])
			lo, ok2 := Unhex(src[i+2])
			if !ok1 || !ok2 {
				return dst, ErrBadEscape
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		case c == '+' && plusIsSpace:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// Unhex returns the value of a hex digit, and false for any other byte.
func Unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
