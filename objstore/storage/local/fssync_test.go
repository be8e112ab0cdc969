package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"

	"golang.org/x/sys/unix"
)

// TestSharedSyncfsCoversLaterCallers: callers that arrive while a syncfs runs are not
// covered by it; they wait for the next call, which covers every one of them and gives
// each its error. Four callers, two calls.
func TestSharedSyncfsCoversLaterCallers(t *testing.T) {
	s := newSharedSyncfs()
	entered := make(chan int32, 2)
	release := make(chan struct{})
	var calls atomic.Int32
	s.call = func(int) error {
		n := calls.Add(1)
		entered <- n
		<-release
		if n == 2 {
			return unix.EIO
		}
		return nil
	}
	errs := make(chan error, 4)
	go func() { errs <- s.sync(-1, nil) }()
	recv(t, entered)
	for range 3 {
		go func() { errs <- s.sync(-1, nil) }()
	}
	waitFor(t, "three callers waiting", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.waiting) == 3
	})
	release <- struct{}{}
	if err := recv(t, errs); err != nil {
		t.Fatalf("the first caller: %v, want the first call's nil", err)
	}
	if n := recv(t, entered); n != 2 {
		t.Fatalf("call %d began, want the second", n)
	}
	select {
	case err := <-errs:
		t.Fatalf("a later caller returned (%v) before the call that covers it ended", err)
	default:
	}
	release <- struct{}{}
	for range 3 {
		if err := recv(t, errs); !errors.Is(err, unix.EIO) {
			t.Fatalf("a later caller: %v, want the second call's EIO", err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d syncfs calls for four callers, want 2", n)
	}
}

// TestSharedSyncfsOneCallForABatch: the drives of one journaled ext4 opened with one
// CommitGroups share a syncfs; called at once in one batch (as deploy.SyncDrives calls
// them), four drives' SyncFileSystem make one syncfs between them, with redo logs and
// without; called one after the other, one each.
func TestSharedSyncfsOneCallForABatch(t *testing.T) {
	fsDir := loopExt4(t)
	for _, redo := range []bool{false, true} {
		cg := NewCommitGroups()
		drives := make([]storage.Drive, 4)
		for i := range drives {
			d, err := Open(filepath.Join(fsDir, fmt.Sprintf("redo-%v-%d", redo, i)), Options{Commits: cg, RedoLog: redo})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			d.batchWait = time.Minute // no arrival may end on its bound, however slow the machine
			drives[i] = d
		}
		s := drives[0].(*Drive).fsSync
		calls := func() uint64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.calls
		}
		for _, d := range drives[1:] {
			if d.(*Drive).fsSync != s || s == nil {
				t.Fatalf("redo %v: the drives of one file system do not share one syncfs", redo)
			}
		}
		before := calls()
		ctx, _ := storage.BatchDrives(context.Background(), drives, nil)
		var wg sync.WaitGroup
		errs := make([]error, len(drives))
		for i, d := range drives {
			wg.Go(func() { errs[i] = d.(*Drive).SyncFileSystem(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := calls() - before; n != 1 {
			t.Fatalf("redo %v: four drives synced in one batch made %d syncfs calls, want 1", redo, n)
		}
		before = calls()
		for _, d := range drives {
			if err := d.(*Drive).SyncFileSystem(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if n := calls() - before; n != 4 {
			t.Fatalf("redo %v: four drives synced one after the other made %d syncfs calls, want 4", redo, n)
		}
	}
}

// recv receives from c, failing the test after 10 s.
func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in 10 s")
		panic("unreachable")
	}
}

// waitFor polls cond every millisecond, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
