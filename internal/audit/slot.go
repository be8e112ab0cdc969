package audit

import "unsafe"

const (
	// slotBytes is the string storage a slot starts with: a typical record's request id,
	// access key, operation, bucket and key fit.
	slotBytes = 512
	// slotMaxRetained is the most string storage a slot keeps between records: a larger
	// record gets storage of its own, and the slot shrinks back on the next record.
	slotMaxRetained = 8 << 10
)

// slot holds one queued record. The producer that owns the slot (it popped the slot's
// index from its free ring) fills it; the consumer reads it after popping the index from
// the full ring and then hands the index back. Neither touches a slot it does not own.
type slot struct {
	// rec is the copied record; its strings are views into buf.
	rec Record
	buf []byte
}

// fill copies r into the slot, its strings into the slot's own storage, so that the
// caller may reuse the memory behind r's strings as soon as Emit returns.
func (s *slot) fill(r *Record) {
	n := len(r.RequestID) + len(r.AccessKey) + len(r.Operation) + len(r.Bucket) + len(r.Key) + len(r.ErrorCode)
	if c := cap(s.buf); c < n || (c > slotMaxRetained && n <= slotBytes) {
		s.buf = make([]byte, 0, max(n, slotBytes))
	}
	// buf has room for all of n: the appends below never move it, so every view stays
	// inside one array.
	b := s.buf[:0]
	s.rec = *r
	s.rec.RequestID, b = appendView(b, r.RequestID)
	s.rec.AccessKey, b = appendView(b, r.AccessKey)
	s.rec.Operation, b = appendView(b, r.Operation)
	s.rec.Bucket, b = appendView(b, r.Bucket)
	s.rec.Key, b = appendView(b, r.Key)
	s.rec.ErrorCode, _ = appendView(b, r.ErrorCode)
}

// appendView appends str to b, which must have room for it, and returns a string that
// views the appended bytes. The view is valid until the slot is filled again.
func appendView(b []byte, str string) (string, []byte) {
	if str == "" {
		return "", b
	}
	start := len(b)
	b = append(b, str...)
	return unsafe.String(&b[start], len(str)), b
}
