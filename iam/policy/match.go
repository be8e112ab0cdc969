package policy

import "strings"

// escape marks the next byte of a pattern as literal: policy variables ${*} and ${?},
// and the wildcard characters of substituted values, must not act as wildcards. Keys and
// names never hold NUL (the S3 face refuses it), so it cannot clash.
const escape = '\x00'

// globMatch reports whether s matches pattern, where '*' matches any run of bytes, '?'
// any one byte (both work on bytes, which is what a multi-byte character needs for '*';
// '?' against a multi-byte character is the one place this differs from AWS), and an
// escape byte makes the byte after it literal. fold compares ASCII letters without case.
// It runs in O(len(s)*len(pattern)) at worst, without recursion.
func globMatch(pattern, s string, fold bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			switch {
			case c == '*':
				starP, starI = p, i
				p++
				continue
			case c == '?':
				p++
				i++
				continue
			case c == escape && p+1 < len(pattern):
				if byteEq(pattern[p+1], s[i], fold) {
					p += 2
					i++
					continue
				}
			case byteEq(c, s[i], fold):
				p++
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// expand replaces the policy variables of s from ctx. For a pattern (glob) the
// substituted text is escaped so that it matches itself only. It reports false when a
// variable the request does not have is used without a default: the element it is in
// then matches nothing, as in AWS.
func expand(s string, ctx Context, glob bool) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		switch name {
		case "*", "?":
			if glob {
				b.WriteByte(escape)
			}
			b.WriteString(name)
			continue
		case "$":
			b.WriteByte('$')
			continue
		}
		key, def, hasDef := strings.Cut(name, ",")
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		vals, ok := lookup(ctx, key)
		switch {
		case ok && len(vals) > 0:
			val = vals[0]
		case hasDef:
			val = strings.Trim(strings.TrimSpace(def), "'")
		default:
			return "", false
		}
		if glob {
			for k := 0; k < len(val); k++ {
				if c := val[k]; c == '*' || c == '?' || c == escape {
					b.WriteByte(escape)
				}
				b.WriteByte(val[k])
			}
		} else {
			b.WriteString(val)
		}
	}
}

func lookup(ctx Context, key string) ([]string, bool) {
	if ctx == nil {
		return nil, false
	}
	return ctx.Values(key)
}
