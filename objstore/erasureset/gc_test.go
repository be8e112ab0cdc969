package erasureset

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

func TestDataDirIDTime(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 0, 0, 123e6, time.UTC)
	got, ok := dataDirTime(hexID(newDataDirID(now)))
	if !ok || !got.Equal(now) {
		t.Fatalf("dataDirTime = %v, %v; want %v", got, ok, now)
	}
}

// TestCollectGarbage leaves unreferenced data directories as a crash would (old and fresh),
// and checks that only the old ones go, never one an object names or an open handle reads.
func TestCollectGarbage(t *testing.T) {
	var dirs []string
	var drives []storage.Drive
	for range 2 {
		dir, d := openLocalDrive(t)
		dirs, drives = append(dirs, dir), append(drives, d)
	}
	s, err := New(Config{Drives: drives, Parity: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := s.MakeBucket(c, "gc-bucket"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := s.PutObject(c, "gc-bucket", "live", bytes.NewReader(big), int64(len(big)), objstore.PutOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	old := hexID(newDataDirID(time.Now().Add(-2 * garbageGrace)))
	fresh := hexID(newDataDirID(time.Now()))
	// An old directory an open handle reads (as after an overwrite while reading).
	pinnedDir := hexID(newDataDirID(time.Now().Add(-3 * garbageGrace)))
	s.pins.pin("gc-bucket", pinnedDir)
	for _, dir := range dirs {
		for _, name := range []string{old, fresh, pinnedDir} {
			p := filepath.Join(dir, "gc-bucket", layout.DataDirPath(name))
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(p, "part.1"), []byte("orphan"), 0o644)
		}
	}
	n, err := s.CollectGarbage(c, "gc-bucket")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("collected %d directories, want the 2 old orphans", n)
	}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "gc-bucket", layout.DataDirPath(old))); !os.IsNotExist(err) {
			t.Fatal("old orphan survived")
		}
		if _, err := os.Stat(filepath.Join(dir, "gc-bucket", layout.DataDirPath(fresh))); err != nil {
			t.Fatal("fresh orphan (a commit in flight) was collected")
		}
		if _, err := os.Stat(filepath.Join(dir, "gc-bucket", layout.DataDirPath(pinnedDir))); err != nil {
			t.Fatal("the data of an open handle was removed")
		}
	}
	h, err := s.OpenObject(c, "gc-bucket", "live")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got := make([]byte, len(big))
	if _, err := h.ReadAt(got, 0); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("a live object after collection: %v", err)
	}
}

// TestCollectGarbageOffOnSharedDrives checks that a set whose drives other processes write
// (a cluster node's) collects nothing when its locker cannot watch every lock of the set
// (a node that does not own the set): their renames claim nothing in this process.
func TestCollectGarbageOffOnSharedDrives(t *testing.T) {
	dir, d := openLocalDrive(t)
	// The process's own lock map: it does not see the other processes' writers.
	s, err := New(Config{Drives: []storage.Drive{d}, SharedDrives: true, Locks: &nslock.Map{}})
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := s.MakeBucket(c, "gc-bucket"); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "gc-bucket", layout.DataDirPath(hexID(newDataDirID(time.Now().Add(-2*garbageGrace)))))
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CollectGarbage(c, "gc-bucket"); n != 0 || !errors.Is(err, ErrCollectorOff) {
		t.Fatalf("CollectGarbage = %d, %v; want 0, ErrCollectorOff", n, err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("an unreferenced directory was removed from shared drives: %v", err)
	}
	if err := s.HealAll(c, false, func(HealResult) {}); err != nil {
		t.Fatalf("HealAll on shared drives: %v", err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("HealAll removed an unreferenced directory from shared drives: %v", err)
	}
}
