package audit

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func newLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// emitRetrying emits r, retrying while the shard is full, for at most a few seconds: the
// load tests want every record through, so that they can check that each arrives once.
func emitRetrying(t *testing.T, emit func(*Record) bool, r *Record) {
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !emit(r); i++ {
		if i%256 == 0 && time.Now().After(deadline) {
			t.Errorf("record %s still refused after 10s", r.RequestID)
			return
		}
		runtime.Gosched()
	}
}

// TestConcurrentLoad emits from goroutines sharing Log.Emit and from goroutines with
// their own Producer, with small rings so that they fill, and checks that every record
// accepted is written exactly once and intact, and in order for each Producer.
func TestConcurrentLoad(t *testing.T) {
	const (
		sharedWriters    = 8
		dedicatedWriters = 4
	)
	perWriter := 5000
	if raceEnabled {
		perWriter = 1000
	}
	sink := &memSink{}
	l := newLog(t, Config{Sink: sink, Shards: 3, RingSize: 32, FlushBytes: 8 << 10})
	var wg sync.WaitGroup
	for w := 0; w < sharedWriters+dedicatedWriters; w++ {
		emit := l.Emit
		if w >= sharedWriters {
			emit = l.Producer().Emit
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				r := recordFor(w*perWriter + i)
				emitRetrying(t, emit, &r)
				r.Key = "overwritten after Emit" // the log must hold its own copy
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := decodeLines(t, sink.bytes())
	total := (sharedWriters + dedicatedWriters) * perWriter
	if len(recs) != total {
		t.Fatalf("%d records written, want %d", len(recs), total)
	}
	seen := make([]bool, total)
	last := make([]int, sharedWriters+dedicatedWriters)
	for i := range last {
		last[i] = -1
	}
	for _, r := range recs {
		id := checkIntact(t, r)
		if id < 0 || id >= total || seen[id] {
			t.Fatalf("record %d unexpected or written twice", id)
		}
		seen[id] = true
		if w := id / perWriter; w >= sharedWriters {
			if id < last[w] {
				t.Fatalf("producer %d: record %d written after %d", w, id, last[w])
			}
			last[w] = id
		}
	}
	st := l.Stats()
	if st.Accepted != uint64(total) || st.Written != uint64(total) || st.Failed != 0 {
		t.Fatalf("stats %+v, want %d accepted and written", st, total)
	}
}

// TestSlowSinkDrops blocks the sink and checks that Emit keeps returning at once, that the
// records beyond the ring are dropped and counted, and that every accepted record is
// written once the sink moves again.
func TestSlowSinkDrops(t *testing.T) {
	sink := &memSink{block: make(chan struct{})}
	l := newLog(t, Config{Sink: sink, Shards: 1, RingSize: 8})
	// Registered after newLog's, so run before its Close: a check that fails while the
	// sink is blocked must report, not leave Close waiting for the sink until the timeout.
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(sink.block) }) }
	t.Cleanup(release)
	p := l.Producer()
	const emitted = 200
	accepted := 0
	for i := 0; i < emitted; i++ {
		r := recordFor(i)
		if p.Emit(&r) {
			accepted++
		}
		if i == 0 {
			// Let the consumer take the first record and block in the sink with it: once
			// it is in the sink, not merely off the ring (it may still be gathering its
			// batch then, and take more records into it).
			waitFor(t, func() bool { return sink.blocked.Load() == 1 })
		}
	}
	st := l.Stats()
	if st.DroppedFull == 0 || st.Accepted != uint64(accepted) || st.Accepted+st.DroppedFull != emitted {
		t.Fatalf("stats %+v after %d emitted, %d accepted", st, emitted, accepted)
	}
	// One record in the blocked batch, and one full ring.
	if want := 1 + p.full.Cap(); accepted != want {
		t.Fatalf("%d accepted, want %d", accepted, want)
	}
	release()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := decodeLines(t, sink.bytes())
	if len(recs) != accepted {
		t.Fatalf("%d records written, want the %d accepted", len(recs), accepted)
	}
	for i, r := range recs {
		if id := checkIntact(t, r); id != i {
			t.Fatalf("record %d is id %d: accepted records are the first ones, in order", i, id)
		}
	}
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	sink := &memSink{}
	l := newLog(t, Config{Sink: sink, PollInterval: time.Hour})
	p := l.Producer()
	for i := 0; i < 100; i++ {
		r := recordFor(i)
		if !p.Emit(&r) {
			t.Fatalf("record %d refused", i)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(decodeLines(t, sink.bytes())); n != 100 {
		t.Fatalf("%d records after Close, want 100", n)
	}
	if !sink.closed {
		t.Fatal("Close did not close the sink")
	}
	r := recordFor(1)
	if p.Emit(&r) || l.Emit(&r) || l.Producer().Emit(&r) {
		t.Fatal("Emit after Close accepted a record")
	}
	if st := l.Stats(); st.DroppedClosed != 3 {
		t.Fatalf("DroppedClosed = %d, want 3", st.DroppedClosed)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestEmitStampsTime checks that a record without a time gets the time of Emit.
func TestEmitStampsTime(t *testing.T) {
	sink := &memSink{}
	l := newLog(t, Config{Sink: sink})
	before := time.Now()
	l.Emit(&Record{RequestID: "x"})
	l.Close()
	recs := decodeLines(t, sink.bytes())
	if len(recs) != 1 || recs[0].Time.Before(before.Truncate(time.Microsecond)) || recs[0].Time.After(time.Now()) {
		t.Fatalf("records %+v, want one stamped after %v", recs, before)
	}
}

func TestFileSinkReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	sink, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := newLog(t, Config{Sink: sink})
	p := l.Producer() // one producer: records are written in order
	emitN := func(from, to int) {
		for i := from; i < to; i++ {
			r := recordFor(i)
			emitRetrying(t, p.Emit, &r)
		}
		waitFor(t, func() bool { return l.Stats().Written == uint64(to) })
	}
	emitN(0, 10)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	emitN(10, 15) // still into the renamed file, as a rotated log is until reopened
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	emitN(15, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path     string
		from, to int
	}{{path + ".1", 0, 15}, {path, 15, 40}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		recs := decodeLines(t, data)
		if len(recs) != f.to-f.from {
			t.Fatalf("%s: %d records, want %d", f.path, len(recs), f.to-f.from)
		}
		for i, r := range recs {
			if id := checkIntact(t, r); id != f.from+i {
				t.Fatalf("%s: record %d is id %d, want %d", f.path, i, id, f.from+i)
			}
		}
		if fi, err := os.Stat(f.path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f.path, fi.Mode(), err)
		}
	}
}

func TestFileSinkReopenFailureKeepsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "audit.log")
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	sink, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := os.Rename(filepath.Dir(path), filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Reopen(); err == nil {
		t.Fatal("Reopen into a missing directory succeeded")
	}
	if err := sink.WriteBatch([]byte("{}\n")); err != nil {
		t.Fatalf("write after failed Reopen: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "gone", "audit.log")); string(data) != "{}\n" {
		t.Fatalf("old file holds %q", data)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Sink: &memSink{}, RingSize: 1 << 21}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
