package router

import (
	"errors"

	"github.com/flashstor/flashstor/s3frontend/pctenc"
)

// ErrBadEscape is returned for a malformed percent-escape in a path or query.
var ErrBadEscape = pctenc.ErrBadEscape

// appendUnescape appends the percent-decoding of src to dst; plus decodes '+' as a space.
func appendUnescape(dst, src []byte, plus bool) ([]byte, error) {
	return pctenc.AppendDecoded(dst, src, plus)
}

// Query is a parsed query string. Names and values are percent-decoded ('+' as a space,
// as S3 reads queries) into one buffer that the Query keeps and reuses, so parsing a query
// allocates nothing once the buffer has grown. Slices it returns are valid until the next
// Parse or Reset.
type Query struct {
	buf    []byte
	params []param
}

// param locates one name=value pair in Query.buf.
type param struct {
	n0, n1, v0, v1 int32
}

// maxParams bounds the parameters of one query; a request with more is refused.
const maxParams = 128

// Parse replaces q's contents with the parameters of raw, the query as received without the
// '?'. Empty pieces ("a&&b") are skipped.
func (q *Query) Parse(raw []byte) error {
	q.Reset()
	if cap(q.buf) < len(raw) {
		q.buf = make([]byte, 0, max(len(raw), 256))
	}
	for len(raw) > 0 {
		piece := raw
		if i := indexByte(raw, '&'); i >= 0 {
			piece, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(piece) == 0 {
			continue
		}
		if len(q.params) == maxParams {
			return errors.New("router: too many query parameters")
		}
		name, value := piece, []byte(nil)
		if i := indexByte(piece, '='); i >= 0 {
			name, value = piece[:i], piece[i+1:]
		}
		var p param
		var err error
		p.n0 = int32(len(q.buf))
		if q.buf, err = appendUnescape(q.buf, name, true); err != nil {
			return err
		}
		p.n1 = int32(len(q.buf))
		p.v0 = p.n1
		if q.buf, err = appendUnescape(q.buf, value, true); err != nil {
			return err
		}
		p.v1 = int32(len(q.buf))
		q.params = append(q.params, p)
	}
	return nil
}

// Reset empties q, keeping its buffers.
func (q *Query) Reset() {
	q.buf = q.buf[:0]
	q.params = q.params[:0]
}

// Len returns the number of parameters.
func (q *Query) Len() int { return len(q.params) }

// Name returns the decoded name of parameter i.
func (q *Query) Name(i int) []byte { p := q.params[i]; return q.buf[p.n0:p.n1:p.n1] }

// Value returns the decoded value of parameter i.
func (q *Query) Value(i int) []byte { p := q.params[i]; return q.buf[p.v0:p.v1:p.v1] }

// Get returns the value of the first parameter named name (exact case) and whether there
// is one.
func (q *Query) Get(name string) ([]byte, bool) {
	for i := range q.params {
		if string(q.Name(i)) == name {
			return q.Value(i), true
		}
	}
	return nil, false
}

// Has reports whether a parameter named name is present.
func (q *Query) Has(name string) bool {
	_, ok := q.Get(name)
	return ok
}

// GetString returns the value of name as a string ("" when absent); it allocates.
func (q *Query) GetString(name string) string {
	v, _ := q.Get(name)
	return string(v)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
