package sigv4

import (
	"bytes"
	"github.com/flashstor/flashstor/s3frontend/pctenc"
	"slices"
)

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c is left as is by SigV4's URI encoding (RFC 3986 unreserved).
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendEncoded appends src URI-encoded the SigV4 way: every byte but the unreserved ones as
// %XX with upper-case hex.
func appendEncoded(dst, src []byte) []byte {
	for _, c := range src {
		if unreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendDecoded appends src with its percent-escapes decoded; with plusIsSpace, '+' decodes
// to ' ' as in a form-encoded query.
func appendDecoded(dst, src []byte, plusIsSpace bool) ([]byte, error) {
	return pctenc.AppendDecoded(dst, src, plusIsSpace)
}

// unhex is the value of a hex digit.
func unhex(c byte) (byte, bool) { return pctenc.Unhex(c) }

// appendCanonicalURI appends the canonical URI of raw path p. S3 does not double-encode: the
// path is decoded segment by segment and each segment encoded once, so "%2F" inside a
// segment stays "%2F", "/" separators and empty segments are kept, and "." or ".." are not
// resolved. tmp is scratch space; its grown form is returned.
func appendCanonicalURI(dst, p, tmp []byte) ([]byte, []byte, error) {
	if len(p) == 0 {
		return append(dst, '/'), tmp, nil
	}
	for {
		i := bytes.IndexByte(p, '/')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		var err error
		tmp, err = appendDecoded(tmp[:0], seg, false)
		if err != nil {
			return dst, tmp, err
		}
		dst = appendEncoded(dst, tmp)
		if i < 0 {
			return dst, tmp, nil
		}
		dst = append(dst, '/')
		p = p[i+1:]
	}
}

// qparam locates one query parameter inside the scratch buffers: the decoded name and value
// in dec, the encoded ones in enc. Offsets, not slices, because the buffers grow.
type qparam struct {
	dk0, dk1, dv0, dv1 int32 // decoded name and value in dec
	ek0, ek1, ev0, ev1 int32 // encoded name and value in enc
}

// queryParams holds the parsed query of one request.
type queryParams struct {
	dec, enc []byte
	params   []qparam
}

// parse splits raw on '&', decodes each name and value (with '+' as space) and re-encodes
// them in SigV4 form. Empty pieces ("a=1&&b") are skipped; a name without '=' has an empty
// value.
func (q *queryParams) parse(raw []byte) error {
	q.dec, q.enc, q.params = q.dec[:0], q.enc[:0], q.params[:0]
	for len(raw) > 0 {
		piece := raw
		if i := bytes.IndexByte(raw, '&'); i >= 0 {
			piece, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(piece) == 0 {
			continue
		}
		name, value, _ := bytes.Cut(piece, []byte{'='})
		var p qparam
		var err error
		p.dk0 = int32(len(q.dec))
		if q.dec, err = appendDecoded(q.dec, name, true); err != nil {
			return err
		}
		p.dk1 = int32(len(q.dec))
		p.dv0 = p.dk1
		if q.dec, err = appendDecoded(q.dec, value, true); err != nil {
			return err
		}
		p.dv1 = int32(len(q.dec))
		p.ek0 = int32(len(q.enc))
		q.enc = appendEncoded(q.enc, q.dec[p.dk0:p.dk1])
		p.ek1 = int32(len(q.enc))
		p.ev0 = p.ek1
		q.enc = appendEncoded(q.enc, q.dec[p.dv0:p.dv1])
		p.ev1 = int32(len(q.enc))
		q.params = append(q.params, p)
	}
	return nil
}

// name returns the decoded name of parameter i.
func (q *queryParams) name(i int) []byte { return q.dec[q.params[i].dk0:q.params[i].dk1] }

// value returns the decoded value of parameter i.
func (q *queryParams) value(i int) []byte { return q.dec[q.params[i].dv0:q.params[i].dv1] }

// get returns the decoded value of the first parameter named exactly name.
func (q *queryParams) get(name string) ([]byte, bool) {
	for i := range q.params {
		if string(q.name(i)) == name {
			return q.value(i), true
		}
	}
	return nil, false
}

// appendCanonical appends the canonical query string: encoded "name=value" pairs sorted by
// name then value, joined by '&', leaving out the parameter named skip (X-Amz-Signature for
// a presigned URL; "" for none).
func (q *queryParams) appendCanonical(dst []byte, skip string) []byte {
	enc := q.enc
	slices.SortFunc(q.params, func(a, b qparam) int {
		if c := bytes.Compare(enc[a.ek0:a.ek1], enc[b.ek0:b.ek1]); c != 0 {
			return c
		}
		return bytes.Compare(enc[a.ev0:a.ev1], enc[b.ev0:b.ev1])
	})
	first := true
	for i, p := range q.params {
		if skip != "" && string(q.name(i)) == skip {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, enc[p.ek0:p.ek1]...)
		dst = append(dst, '=')
		dst = append(dst, enc[p.ev0:p.ev1]...)
	}
	return dst
}

// appendTrimmedValue appends header value v the SigV4 way: leading and trailing blanks
// removed, inner runs of spaces collapsed to one space.
func appendTrimmedValue(dst, v []byte) []byte {
	v = bytes.Trim(v, " \t")
	space := false
	for _, c := range v {
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
