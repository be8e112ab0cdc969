package erasureset

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// bitrotFixture is a 4-drive set (2 data, 2 parity) holding one object of several stripes,
// with the OnBitrot calls it saw.
type bitrotFixture struct {
	t       *testing.T
	dirs    []string
	set     *Set
	content []byte

	mu    sync.Mutex
	calls []int // the shard counts OnBitrot was called with; guarded by mu
}

const (
	bitrotBucket = "rot"
	bitrotKey    = "obj"
)

func newBitrotFixture(t *testing.T) *bitrotFixture {
	return newBitrotFixtureWrapped(t, func(d storage.Drive) storage.Drive { return d })
}

// newBitrotFixtureWrapped is newBitrotFixture with each drive wrapped by wrap (a fault
// injector).
func newBitrotFixtureWrapped(t *testing.T, wrap func(storage.Drive) storage.Drive) *bitrotFixture {
	f := &bitrotFixture{t: t}
	var drives []storage.Drive
	for range 4 {
		dir := t.TempDir()
		d, err := local.Open(dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f.dirs = append(f.dirs, dir)
		drives = append(drives, wrap(d))
	}
	s, err := New(Config{Drives: drives, Parity: 2, OnBitrot: func(shards int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, shards)
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.set = s
	c := context.Background()
	if err := s.MakeBucket(c, bitrotBucket); err != nil {
		t.Fatal(err)
	}
	f.content = make([]byte, 3<<20+777) // four stripes of the default block size
	r := rand.New(rand.NewPCG(1, 2))
	for i := range f.content {
		f.content[i] = byte(r.Uint32())
	}
	if _, err := s.PutObject(c, bitrotBucket, bitrotKey, bytes.NewReader(f.content), int64(len(f.content)), objstore.PutOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// shardFile returns the path of the part file holding shard (0 and 1 are data, 2 and 3
// parity) and the drive it is on.
func (f *bitrotFixture) shardFile(shard int) (path string, drive int) {
	f.t.Helper()
	oh, err := f.set.OpenObject(context.Background(), bitrotBucket, bitrotKey)
	if err != nil {
		f.t.Fatal(err)
	}
	defer oh.Close()
	h := oh.(*handle)
	drive = slices.Index(h.shards, shard)
	if drive < 0 || h.dataDir == "" {
		f.t.Fatalf("no drive holds shard %d in a data directory: %v %q", shard, h.shards, h.dataDir)
	}
	return filepath.Join(f.dirs[drive], bitrotBucket, layout.PartPath(h.dataDir, 1)), drive
}

// flipBytes inverts one byte of the file at each offset (negative: from the end).
func (f *bitrotFixture) flipBytes(path string, offsets ...int64) {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, off := range offsets {
		if off < 0 {
			off += int64(len(b))
		}
		b[off] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *bitrotFixture) truncate(path string) {
	f.t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		f.t.Fatal(err)
	}
}

// readBack reads the whole object with one handle, a stripe per call as a streaming reader
// would, and checks it byte for byte.
func (f *bitrotFixture) readBack() {
	f.t.Helper()
	h, err := f.set.OpenObject(context.Background(), bitrotBucket, bitrotKey)
	if err != nil {
		f.t.Fatal(err)
	}
	defer h.Close()
	var got bytes.Buffer
	size := int64(len(f.content))
	for off := int64(0); off < size; off += erasure.DefaultBlockSize {
		n := min(erasure.DefaultBlockSize, size-off)
		if _, err := h.WriteRange(context.Background(), &got, off, n); err != nil {
			f.t.Fatalf("reading %d bytes at %d around the damage: %v", n, off, err)
		}
	}
	if !bytes.Equal(got.Bytes(), f.content) {
		f.t.Fatalf("read back %d bytes that differ from the %d written", got.Len(), len(f.content))
	}
}

// takeCalls returns the OnBitrot calls seen so far and forgets them.
func (f *bitrotFixture) takeCalls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func TestBitrotReportedByRead(t *testing.T) {
	tests := []struct {
		name   string
		damage func(f *bitrotFixture, path string)
	}{
		// Two damaged blocks of one file, in stripes read by different calls: one damaged
		// shard, reported once.
		{"corrupt", func(f *bitrotFixture, path string) { f.flipBytes(path, 100, -100) }},
		{"truncated", func(f *bitrotFixture, path string) { f.truncate(path) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBitrotFixture(t)
			path, _ := f.shardFile(0)
			tt.damage(f, path)
			f.readBack()
			if got := f.takeCalls(); !slices.Equal(got, []int{1}) {
				t.Fatalf("OnBitrot calls after reading around one damaged data shard: %v, want [1]", got)
			}
		})
	}
}

func TestMissingShardIsNotBitrot(t *testing.T) {
	f := newBitrotFixture(t)
	path, _ := f.shardFile(0)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.readBack()
	if got := f.takeCalls(); len(got) != 0 {
		t.Fatalf("OnBitrot calls after reading around a missing shard file: %v, want none", got)
	}
}

func TestBitrotReportedByHeal(t *testing.T) {
	tests := []struct {
		name   string
		deep   bool
		damage func(f *bitrotFixture, path string)
	}{
		// A parity shard: reads do not touch it, only the heal's check finds it.
		{"deep check finds corruption", true, func(f *bitrotFixture, path string) { f.flipBytes(path, 100) }},
		{"shallow check finds truncation", false, func(f *bitrotFixture, path string) { f.truncate(path) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBitrotFixture(t)
			path, drive := f.shardFile(3)
			tt.damage(f, path)
			res, err := f.set.HealObject(context.Background(), bitrotBucket, bitrotKey, tt.deep)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Healed, []int{drive}) {
				t.Errorf("healed drives %v, want [%d]", res.Healed, drive)
			}
			if got := f.takeCalls(); !slices.Equal(got, []int{1}) {
				t.Fatalf("OnBitrot calls after healing one damaged parity shard: %v, want [1]", got)
			}
			// The rebuilt shard is sound: a second deep heal finds nothing.
			if _, err := f.set.HealObject(context.Background(), bitrotBucket, bitrotKey, true); err != nil {
				t.Fatal(err)
			}
			if got := f.takeCalls(); len(got) != 0 {
				t.Fatalf("OnBitrot calls after a heal of a healed object: %v, want none", got)
			}
			f.readBack()
		})
	}
}
