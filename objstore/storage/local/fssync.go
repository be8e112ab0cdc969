package local

import (
	"sync"

	"golang.org/x/sys/unix"
)

// sharedCall makes one system call on a descriptor for the callers that ask at once, each
// of whom needs a call that began after it asked: a redo log's fdatasync for the commits
// written to it (redoLog.sync), or a file system's syncfs for its drives (sharedSyncfs).
// A caller is done once a call that began after it registered has returned: the first
// registered caller to find none running makes one, with its own descriptor, for every
// caller registered then, and each of them gets that call's error.
type sharedCall struct {
	mu   sync.Mutex
	cond sync.Cond // L is &mu: a call ended
	// running is set while a call runs; waiting are the callers registered since it
	// began, whom the next call covers. GUARDED_BY(mu)
	running bool
	waiting []*callWaiter
	// calls counts the calls made, for tests. GUARDED_BY(mu)
	calls uint64

	// call is the system call (replaced by tests that hold it or make it fail).
	call func(fd int) error
}

// callWaiter is one caller's place in a shared call: done once a call that began after
// it registered has returned, with that call's error.
type callWaiter struct {
	done bool
	err  error
}

// init readies a zero sharedCall to make call.
func (s *sharedCall) init(call func(fd int) error) {
	s.call = call
	s.cond.L = &s.mu
}

// do returns once a call that began after the caller registered has returned, with that
// call's error (an errno). The caller registers first, then calls arrive (nil: nothing),
// where it may wait for other callers to register too. fd is the descriptor for the call
// if this caller makes it: it must stay open until do returns.
func (s *sharedCall) do(fd int, arrive func()) error {
	w := &callWaiter{}
	s.mu.Lock()
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	if arrive != nil {
		arrive()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for !w.done {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.calls++
		covered := s.waiting
		s.waiting = nil
		s.mu.Unlock()
		err := s.call(fd)
		s.mu.Lock()
		for _, c := range covered {
			c.done, c.err = true, err
		}
		s.running = false
		s.cond.Broadcast()
	}
	return w.err
}

// sharedSyncfs runs syncfs(2) once for the drives of one file system that ask at once.
// syncfs writes out and commits the whole file system, whichever of its files the
// descriptor is, so the drives of a deployment made of directories of one disk need one
// call where each made its own: in fsync mode every fsync through the mount syncs every
// drive (deploy.SyncDrives), and four syncfs of one ext4 at once cost more than one
// (fusefs/BENCHMARKS.md). The callers of one SyncDrives meet in their commit batch
// (storage.CommitBatch) once registered, so that the first of them does not begin a call
// the others would then wait out before their own. A nil *sharedSyncfs syncs on its own.
type sharedSyncfs struct{ sharedCall }

func newSharedSyncfs() *sharedSyncfs {
	s := new(sharedSyncfs)
	s.init(unix.Syncfs)
	return s
}

// sync returns once a syncfs of the file system that began after the caller registered
// has returned, with that call's error (sharedCall.do). arrive is the caller's arrival in
// its batch, where it waits for the batch's other drives of the file system to register.
func (s *sharedSyncfs) sync(fd int, arrive func()) error {
	if s == nil {
		if arrive != nil {
			arrive()
		}
		return unix.Syncfs(fd)
	}
	return s.do(fd, arrive)
}
