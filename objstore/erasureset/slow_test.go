package erasureset

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// slowFixture is a bitrotFixture (2 data + 2 parity shards, one multi-stripe object) whose
// drives can be made slow.
func slowFixture(t *testing.T) (*bitrotFixture, []*faulty.Drive) {
	var fd []*faulty.Drive
	f := newBitrotFixtureWrapped(t, func(d storage.Drive) storage.Drive {
		w := faulty.Wrap(d)
		fd = append(fd, w)
		return w
	})
	return f, fd
}

// teachSlow makes drive i answer its metadata reads 200 ms late and tells the set's
// latency measure so (as a few such answers would, but without depending on how fast the
// other drives answer on a loaded machine).
func teachSlow(f *bitrotFixture, fd []*faulty.Drive, i int) {
	fd[i].Delay("ReadMeta", 200*time.Millisecond)
	for range 4 {
		f.set.lat.observe(i, time.Second)
	}
}

// makeSlow makes drive i slow (teachSlow) and stalls its file opens until the test ends: a
// read that asks drive i for a shard does not return before then.
func makeSlow(t *testing.T, f *bitrotFixture, fd []*faulty.Drive, i int) {
	t.Helper()
	teachSlow(f, fd, i)
	release := make(chan struct{})
	fd[i].Stall("OpenFile", release)
	t.Cleanup(func() { close(release) })
}

// readAllBounded reads the whole object on another goroutine and fails the test if that
// takes more than a minute (a read stuck on the stalled drive), instead of hanging.
func readAllBounded(t *testing.T, f *bitrotFixture) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := f.set.OpenObject(context.Background(), bitrotBucket, bitrotKey)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer h.Close()
		var got bytes.Buffer
		_, err = h.WriteRange(context.Background(), &got, 0, int64(len(f.content)))
		done <- result{got.Bytes(), err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("reading past a slow drive: %v", r.err)
		}
		if !bytes.Equal(r.b, f.content) {
			t.Fatalf("read back %d bytes that differ from the %d written", len(r.b), len(f.content))
		}
	case <-time.After(time.Minute):
		t.Fatal("a read waited a minute for the slow drive's data shard instead of reading parity")
	}
}

// TestReadLeavesSlowDriveAside: the drive holding data shard 0 answers late; reads take
// parity in its place and never ask it for its shard (its file opens stall until the test
// ends, so a read that asked would not return).
func TestReadLeavesSlowDriveAside(t *testing.T) {
	f, fd := slowFixture(t)
	_, slow := f.shardFile(0)
	makeSlow(t, f, fd, slow)
	readAllBounded(t, f)
	if got := f.takeCalls(); len(got) != 0 {
		t.Fatalf("OnBitrot calls after reading around a slow drive: %v, want none (slow is not damaged)", got)
	}
}

// TestReadSlowAndCorrupt: one drive slow, another's data shard corrupt. With 2 data + 2
// parity shards the two parity shards are enough: the read is correct, the corruption is
// reported, and the slow drive is not waited for.
func TestReadSlowAndCorrupt(t *testing.T) {
	f, fd := slowFixture(t)
	_, slow := f.shardFile(0)
	path, _ := f.shardFile(1)
	f.flipBytes(path, 100)
	makeSlow(t, f, fd, slow)
	readAllBounded(t, f)
	if got := f.takeCalls(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("OnBitrot calls after reading around a slow drive and a corrupt shard: %v, want [1]", got)
	}
}

// TestReadNeedsSlowDrive: one drive known slow (the open goes on without its metadata) and
// two others' shards corrupt, so that the slow drive's shard is one of the only two intact
// ones: the read asks it rather than failing.
func TestReadNeedsSlowDrive(t *testing.T) {
	f, fd := slowFixture(t)
	_, slow := f.shardFile(0)
	var paths []string
	for _, shard := range []int{1, 2} {
		path, _ := f.shardFile(shard)
		paths = append(paths, path)
	}
	teachSlow(f, fd, slow)
	for _, path := range paths {
		f.flipBytes(path, 100)
	}
	fd[slow].Delay("OpenFile", 200*time.Millisecond)
	f.readBack()
	if got := f.takeCalls(); len(got) == 0 || sum(got) != 2 {
		t.Fatalf("OnBitrot calls after reading with two corrupt shards and a slow one: %v, want 2 shards reported", got)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestOpenLeavesSlowDriveAside: once a drive is known slow, opening and stating an object
// does not wait for its metadata (its ReadMeta stalls until the test ends, as its file
// opens do), and reads neither its metadata nor its shards.
func TestOpenLeavesSlowDriveAside(t *testing.T) {
	f, fd := slowFixture(t)
	_, slow := f.shardFile(0)
	makeSlow(t, f, fd, slow)
	release := make(chan struct{})
	fd[slow].Stall("ReadMeta", release)
	t.Cleanup(func() { close(release) })
	readAllBounded(t, f)
	done := make(chan error, 1)
	go func() {
		_, err := f.set.StatObject(context.Background(), bitrotBucket, bitrotKey)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stat past a slow drive: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a stat waited a minute for the slow drive's metadata")
	}
}

// TestOpenFallsBackToSlowDrive: a slow drive and two failing ones leave one fast answer,
// too few to pick a version (2 data shards): the open asks again, waits for the slow
// drive, and reads the object whole.
func TestOpenFallsBackToSlowDrive(t *testing.T) {
	f, fd := slowFixture(t)
	_, slow := f.shardFile(0)
	teachSlow(f, fd, slow)
	failed := 0
	for i := range fd {
		if i != slow && failed < 2 {
			fd[i].Fail("ReadMeta", storage.ErrFaulty)
			failed++
		}
	}
	f.readBack()
}
