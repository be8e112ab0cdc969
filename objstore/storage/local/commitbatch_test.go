package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
)

// In a commit batch, no drive of a file system syncs its object's metadata before every
// drive of the batch on that file system has renamed its own: the first sync then commits
// all four renames in one journal transaction. The fourth drive starts once the others
// have reached their rename (as a goroutine the two cores run last does), which without the
// batch let the first drives sync before it had begun (the commit group waits only for
// commits begun before its rename). The batch's wait is raised to 30 s here, so that the
// machine's load cannot end it.
func TestCommitBatchSyncsAfterEveryRename(t *testing.T) {
	fsDir := loopExt4(t)
	commits := NewCommitGroups()
	const n = 4
	drives := make([]*Drive, n)
	var mu sync.Mutex
	var seen []int // at each sync, how many of the drives' metadata files exist
	var renaming sync.WaitGroup
	renaming.Add(n - 1)
	for i := range drives {
		root := filepath.Join(fsDir, fmt.Sprintf("d%d", i+1))
		d, err := Open(root, Options{Commits: commits, Failpoint: func(step string) error {
			if step == "commit:rename-meta" && i < n-1 {
				renaming.Done()
			}
			if step != "commit:sync-meta" {
				return nil
			}
			there := 0
			for j := range n {
				if _, err := os.Stat(filepath.Join(fsDir, fmt.Sprintf("d%d", j+1), "bkt", layout.ObjectPath("k"))); err == nil {
					there++
				}
			}
			mu.Lock()
			seen = append(seen, there)
			mu.Unlock()
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if d.CommitDomain() == nil {
			t.Skip("the drive has no commit group on this journaled ext4")
		}
		d.batchWait = 30 * time.Second
		if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
			t.Fatal(err)
		}
		drives[i] = d
	}
	batch := new(storage.CommitBatch)
	for _, d := range drives {
		batch.Expect(d.CommitDomain())
	}
	ctx := storage.WithCommitBatch(context.Background(), batch)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, d := range drives {
		wg.Go(func() {
			if i == n-1 {
				// After the others reached their rename (bounded: one of them failing
				// fails the test below).
				done := make(chan struct{})
				go func() { renaming.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
				}
				time.Sleep(10 * time.Millisecond)
			}
			errs[i] = d.CommitObject(ctx, "bkt", "k", []byte("a small object's metadata"), "", "")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("drive %d: %v", i+1, err)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d syncs, want %d", len(seen), n)
	}
	for _, there := range seen {
		if there != n {
			t.Fatalf("a drive synced when %d of the %d renames were done (each sync saw %v)", there, n, seen)
		}
	}
}
