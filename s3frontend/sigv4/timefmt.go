package sigv4

import (
	"net/http"
	"time"
)

// parseYMD parses "YYYYMMDD" as a UTC date.
func parseYMD(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[4:6])
	d, ok3 := digits(b[6:8])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 20130230 normalises into March
		return time.Time{}, false
	}
	return t, true
}

// parseAmzDate parses the ISO 8601 basic form SigV4 uses, "YYYYMMDDTHHMMSSZ", without
// allocating.
func parseAmzDate(b []byte) (time.Time, bool) {
	if len(b) != 16 || b[8] != 'T' || b[15] != 'Z' {
		return time.Time{}, false
	}
	day, ok := parseYMD(b[:8])
	if !ok {
		return time.Time{}, false
	}
	h, ok1 := digits(b[9:11])
	mi, ok2 := digits(b[11:13])
	s, ok3 := digits(b[13:15])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	return day.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// formatAmzDate writes t (UTC) as YYYYMMDDTHHMMSSZ.
func formatAmzDate(dst *[16]byte, t time.Time) {
	t = t.UTC()
	put := func(i, v, width int) {
		for j := width - 1; j >= 0; j-- {
			dst[i+j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, t.Year(), 4)
	put(4, int(t.Month()), 2)
	put(6, t.Day(), 2)
	dst[8] = 'T'
	put(9, t.Hour(), 2)
	put(11, t.Minute(), 2)
	put(13, t.Second(), 2)
	dst[15] = 'Z'
}

// requestTime returns the signing time of a header-signed request: x-amz-date, or else the
// Date header (RFC 1123 and the other forms net/http accepts).
func requestTime(r Request, s *scratch) (time.Time, bool) {
	var v []byte
	var ok bool
	if v, ok, s.vals = firstHeader(r, s.vals, "x-amz-date"); ok {
		return parseAmzDate(v)
	}
	if v, ok, s.vals = firstHeader(r, s.vals, "date"); ok {
		t, err := http.ParseTime(string(v))
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}
