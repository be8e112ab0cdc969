package httpwire

// Character classes of RFC 9110 §5.6.2 and RFC 3986, as 256-entry tables.
const (
	cToken  = 1 << iota // tchar
	cValue              // field-vchar, SP or HTAB (field-value content)
	cTarget             // byte allowed in a request-target (printable ASCII but '#')
	cHost               // byte allowed in a Host value
	cHex                // HEXDIG
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isAlnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if isAlnum || contains("!#$%&'*+-.^_`|~", b) {
			t[c] |= cToken
		}
		if b == '\t' || b == ' ' || 0x21 <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= cValue
		}
		if 0x21 <= b && b <= 0x7e && b != '#' {
			t[c] |= cTarget
		}
		if isAlnum || contains("-._~!$&'()*+,;=:[]%", b) {
			t[c] |= cHost
		}
		if '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' {
			t[c] |= cHex
		}
	}
	return t
}()

func contains(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if charClass[c]&cToken == 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) uint64 {
	switch {
	case c <= '9':
		return uint64(c - '0')
	case c <= 'F':
		return uint64(c-'A') + 10
	default:
		return uint64(c-'a') + 10
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether b equals the lower-case ASCII string s, ignoring ASCII case in b.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
