package router

// ValidBucketName reports whether name follows S3's rules for general purpose bucket names:
// 3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and ending
// with a letter or digit, no two adjacent dots, not shaped like an IPv4 address, and none of
// the prefixes and suffixes S3 reserves. (The object layer applies the same rules; a test
// keeps the two in agreement.)
func ValidBucketName(name []byte) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
			if c == '.' && name[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	if isIPv4(name) {
		return false
	}
	for _, p := range [...]string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if len(name) >= len(p) && string(name[:len(p)]) == p {
			return false
		}
	}
	for _, s := range [...]string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if len(name) >= len(s) && string(name[len(name)-len(s):]) == s {
			return false
		}
	}
	return true
}

// isIPv4 reports whether name is a dotted-decimal IPv4 address as netip.ParseAddr reads
// one: four decimal fields of 0 to 255 without leading zeros.
func isIPv4(name []byte) bool {
	fields := 0
	for len(name) > 0 {
		i := indexByte(name, '.')
		f := name
		if i >= 0 {
			f, name = name[:i], name[i+1:]
			if len(name) == 0 {
				return false
			}
		} else {
			name = nil
		}
		if len(f) == 0 || len(f) > 3 || (len(f) > 1 && f[0] == '0') {
			return false
		}
		v := 0
		for _, c := range f {
			if c < '0' || c > '9' {
				return false
			}
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return false
		}
		fields++
	}
	return fields == 4
}

// CopySource is a parsed x-amz-copy-source header.
type CopySource struct {
	Bucket, Key string
	// VersionID is the version named ("" for the latest).
	VersionID string
}

// ParseCopySource parses an x-amz-copy-source value: "[/]bucket/key[?versionId=id]",
// percent-encoded. It fails with false when the value does not name a valid bucket and a
// key of at most MaxKeyLength bytes, or a well-formed version id (ValidVersionID).
func ParseCopySource(v []byte) (CopySource, bool) {
	raw := v
	var version string
	if i := indexByte(raw, '?'); i >= 0 {
		q := raw[i+1:]
		raw = raw[:i]
		id, ok := bytesCutPrefix(q, "versionId=")
		if !ok || !ValidVersionID(id) {
			return CopySource{}, false
		}
		version = string(id)
	}
	if len(raw) > 0 && raw[0] == '/' {
		raw = raw[1:]
	}
	dec, err := appendUnescape(make([]byte, 0, len(raw)), raw, false)
	if err != nil {
		return CopySource{}, false
	}
	i := indexByte(dec, '/')
	if i <= 0 || i == len(dec)-1 {
		return CopySource{}, false
	}
	b, k := dec[:i], dec[i+1:]
	if !ValidBucketName(b) || len(k) > MaxKeyLength {
		return CopySource{}, false
	}
	return CopySource{Bucket: string(b), Key: string(k), VersionID: version}, true
}

// bytesCutPrefix returns b without prefix, and whether b began with it.
func bytesCutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}
