package fusefs

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// opCounter counts, per operation, the calls and failures a mount's Observe hook records.
type opCounter struct {
	mu sync.Mutex
	// asked lists the operation names Observe was called with; guarded by mu.
	asked []string
	// calls and failed count the recorded calls of each operation; guarded by mu.
	calls, failed map[string]int
	// negative counts recorded durations below zero; guarded by mu.
	negative int
	// spent sums the recorded durations of each operation; guarded by mu.
	spent map[string]time.Duration
}

func newOpCounter() *opCounter {
	return &opCounter{calls: make(map[string]int), failed: make(map[string]int), spent: make(map[string]time.Duration)}
}

func (c *opCounter) observe(op string) func(time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, op)
	return func(d time.Duration, failed bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.calls[op]++
		c.spent[op] += d
		if failed {
			c.failed[op]++
		}
		if d < 0 {
			c.negative++
		}
	}
}

// snapshot returns copies of the call and failure counts.
func (c *opCounter) snapshot() (calls, failed map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls), maps.Clone(c.failed)
}

// spentSnapshot returns a copy of the time spent in each operation.
func (c *opCounter) spentSnapshot() map[string]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.spent)
}

// waitMoved waits until one of ops has more calls (or, with failures, more failed calls)
// than in before: the kernel sends some requests (RELEASE) after the system call returned.
func (c *opCounter) waitMoved(t *testing.T, what string, before map[string]int, failures bool, ops ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls, failed := c.snapshot()
		now := calls
		if failures {
			now = failed
		}
		for _, op := range ops {
			if now[op] > before[op] {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no recorded %v call (failed only: %v); calls %v, failed %v", what, ops, failures, calls, failed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestObserve(t *testing.T) {
	l := newLayer(t, 1)
	if err := l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	counter := newOpCounter()
	mnt := mountLayer(t, l, Options{Observe: counter.observe})
	dir := filepath.Join(mnt, testBucket)

	counter.mu.Lock()
	asked := slices.Clone(counter.asked)
	counter.mu.Unlock()
	for _, op := range []string{"Lookup", "GetAttr", "Read", "Write", "Create", "Open", "ReadDirPlus",
		"Rename", "Unlink", "Mkdir", "Rmdir", "Fsync", "Flush", "Release", "SetAttr"} {
		if n := countOf(asked, op); n != 1 {
			t.Errorf("Observe asked for %q %d times, want once", op, n)
		}
	}

	// Each step runs real system calls and names the operations that must have been
	// recorded since the step before (any one of a group, for the kernel's choices).
	data := pattern(300<<10, 3)
	putObject(t, l, "from-s3", data, nil) // never in the kernel's page cache
	var file *os.File
	steps := []struct {
		name     string
		run      func(t *testing.T)
		ops      [][]string
		failures []string // operations that must have recorded a failed call
	}{
		{"stat of a missing name", func(t *testing.T) {
			_, err := os.Stat(filepath.Join(dir, "missing"))
			wantErrno(t, "stat", err, syscall.ENOENT)
		}, [][]string{{"Lookup"}}, []string{"Lookup"}},
		{"create and write", func(t *testing.T) {
			var err error
			file, err = os.OpenFile(filepath.Join(dir, "new"), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
			must(t, "create", err)
			_, err = file.Write(data)
			must(t, "write", err)
		}, [][]string{{"Create"}, {"Write"}}, nil},
		{"fstat after a write", func(t *testing.T) {
			_, err := file.Stat()
			must(t, "fstat", err)
		}, [][]string{{"GetAttr"}}, nil},
		{"fsync", func(t *testing.T) { must(t, "fsync", file.Sync()) }, [][]string{{"Fsync"}}, nil},
		{"truncate", func(t *testing.T) { must(t, "ftruncate", file.Truncate(1000)) }, [][]string{{"SetAttr"}}, nil},
		{"close", func(t *testing.T) { must(t, "close", file.Close()) }, [][]string{{"Flush"}, {"Release"}}, nil},
		{"stat", func(t *testing.T) {
			_, err := os.Stat(filepath.Join(dir, "from-s3"))
			must(t, "stat", err)
		}, [][]string{{"Lookup"}}, nil},
		{"read", func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, "from-s3"))
			must(t, "read", err)
			if !bytes.Equal(got, data) {
				t.Fatal("read back other bytes than the object's")
			}
		}, [][]string{{"Open"}, {"Read"}, {"Release"}}, nil},
		{"statfs", func(t *testing.T) {
			var st syscall.Statfs_t
			must(t, "statfs", syscall.Statfs(dir, &st))
		}, [][]string{{"StatFs"}}, nil},
		{"readdir", func(t *testing.T) {
			_, err := os.ReadDir(dir)
			must(t, "readdir", err)
		}, [][]string{{"OpenDir"}, {"ReadDirPlus", "ReadDir"}, {"ReleaseDir"}}, nil},
		{"rename", func(t *testing.T) {
			must(t, "rename", os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "renamed")))
		}, [][]string{{"Rename"}}, nil},
		{"unlink", func(t *testing.T) { must(t, "unlink", os.Remove(filepath.Join(dir, "renamed"))) }, [][]string{{"Unlink"}}, nil},
		{"mkdir", func(t *testing.T) { must(t, "mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755)) }, [][]string{{"Mkdir"}}, nil},
		{"rmdir", func(t *testing.T) { must(t, "rmdir", os.Remove(filepath.Join(dir, "sub"))) }, [][]string{{"Rmdir"}}, nil},
	}
	for _, step := range steps {
		calls, failed := counter.snapshot()
		step.run(t)
		for _, group := range step.ops {
			counter.waitMoved(t, step.name, calls, false, group...)
		}
		for _, op := range step.failures {
			counter.waitMoved(t, step.name, failed, true, op)
		}
	}

	// A file system that answers correctly fails nothing else here.
	_, failed := counter.snapshot()
	delete(failed, "Lookup")
	for op, n := range failed {
		t.Errorf("%d failed %s calls recorded", n, op)
	}
	if counter.negative > 0 {
		t.Errorf("%d negative durations recorded", counter.negative)
	}
	calls, _ := counter.snapshot()
	t.Logf("recorded calls: %v", calls)
}

func countOf(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}
