package layout

import (
	"net/netip"
	"strings"
)

// CheckBucketName reports whether name follows S3's rules for general purpose bucket names:
// 3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and ending with
// a letter or digit, no two adjacent dots, not shaped like an IPv4 address, and none of the
// prefixes and suffixes S3 reserves.
func CheckBucketName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return ErrBucketNameRules
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return ErrBucketNameRules
			}
		default:
			return ErrBucketNameRules
		}
	}
	if strings.Contains(name, "..") {
		return ErrBucketNameRules
	}
	if looksNumeric(name) {
		if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
			return ErrBucketNameRules
		}
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return ErrBucketNameRules
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return ErrBucketNameRules
		}
	}
	return nil
}

// looksNumeric reports whether name has only digits and dots: only then can it be an IPv4
// address, so that the common name skips the parse.
func looksNumeric(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
