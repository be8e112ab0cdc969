package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordFor returns a record whose every field is derived from id, with strings that need
// escaping, so that a decoded record can be checked field by field.
func recordFor(id int) Record {
	return Record{
		Time:       time.Unix(1_700_000_000+int64(id), int64(id%1000)*1000).UTC(),
		RequestID:  fmt.Sprintf("REQ%013X", id),
		RemoteAddr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(id >> 8), byte(id)}), uint16(1024+id%60000)),
		AccessKey:  "AKIA" + fmt.Sprint(id%7),
		Operation:  []string{"PutObject", "GetObject", "HeadObject"}[id%3],
		Bucket:     "bucket-" + fmt.Sprint(id%5),
		Key:        fmt.Sprintf("dir/\"quoted\"\t<%d>&\u2028é\x01", id),
		Status:     200 + id%300,
		ErrorCode:  []string{"", "NoSuchKey", "AccessDenied"}[id%3],
		BytesIn:    int64(id) * 3,
		BytesOut:   int64(id) * 5,
		Duration:   time.Duration(id) * time.Microsecond,
		Auth:       time.Duration(id),
		LockWait:   time.Duration(id * 2),
		Storage:    time.Duration(id * 3),
		Response:   time.Duration(id * 4),
		LockHeld:   time.Duration(id * 5),
	}
}

// memSink keeps every batch it is given. Its block channel, when set, makes WriteBatch
// wait for a value (a slow sink).
type memSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	batches int
	closed  bool
	block   chan struct{}
	// blocked counts the WriteBatch calls that have reached block.
	blocked atomic.Int32
}

func (m *memSink) WriteBatch(p []byte) error {
	if m.block != nil {
		m.blocked.Add(1)
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("memSink: closed")
	}
	m.buf.Write(p)
	m.batches++
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memSink) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.buf.Bytes())
}

// decodeLines parses one JSON record per line, failing the test on any malformed line.
func decodeLines(t *testing.T, data []byte) []Record {
	t.Helper()
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v: %q", len(recs)+1, err, sc.Text())
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// idOf recovers the id that recordFor encoded in a request id.
func idOf(t *testing.T, r Record) int {
	t.Helper()
	var id int
	if _, err := fmt.Sscanf(r.RequestID, "REQ%X", &id); err != nil {
		t.Fatalf("request id %q: %v", r.RequestID, err)
	}
	return id
}

// checkIntact fails the test unless r is exactly recordFor of its id.
func checkIntact(t *testing.T, r Record) int {
	t.Helper()
	id := idOf(t, r)
	want := recordFor(id)
	if !r.Time.Equal(want.Time) {
		t.Fatalf("record %d: time %v, want %v", id, r.Time, want.Time)
	}
	r.Time = want.Time
	if r != want {
		t.Fatalf("record %d not intact:\n got %+v\nwant %+v", id, r, want)
	}
	return id
}
