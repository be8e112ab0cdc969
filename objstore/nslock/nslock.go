// Package nslock provides the namespace locks of the object core: a reader/writer lock per
// name (bucket and key, or an upload), created on first use and dropped when its last holder
// leaves, so that memory follows the number of names in use, not the number stored.
//
// When the context of an acquisition carries an optiming.Timing, the time the acquisition
// spent blocked is added to it, and so is, at release, the time it held write locks;
// without one no clock is read.
package nslock

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/optiming"
)

// Map is a set of named reader/writer locks. The zero value is ready to use.
type Map struct {
	mu sync.Mutex
	// locks holds the entries with at least one holder or waiter; guarded by mu.
	locks map[string]*entry
	// free holds up to maxFree entries without holders or waiters, for reuse, so that an
	// uncontended acquisition allocates no entry; guarded by mu.
	free []*entry
	// watches are the Watches not stopped; guarded by mu.
	watches []*Watch
}

type entry struct {
	// refs counts holders and waiters; guarded by Map.mu. The entry leaves the map at 0.
	refs int
	// lock is a write-preferring reader/writer lock that can be abandoned by a waiter whose
	// context ends: writer holds it alone, readers share it.
	lock rwlock
}

// Unlock releases what a Lock or RLock call took.
type Unlock func()

// Grant is Acquire in the shape of the object core's Locker (erasureset.Locker): one process
// fences nothing, so the context comes back as it went in.
func (m *Map) Grant(ctx context.Context, writes, reads []string) (context.Context, Unlock, error) {
	unlock, err := m.Acquire(ctx, writes, reads)
	return ctx, unlock, err
}

// Lock takes the write locks of every name. It returns when all are held or ctx is done.
func (m *Map) Lock(ctx context.Context, names ...string) (Unlock, error) {
	return m.Acquire(ctx, names, nil)
}

// RLock takes the read locks of every name.
func (m *Map) RLock(ctx context.Context, names ...string) (Unlock, error) {
	return m.Acquire(ctx, nil, names)
}

// Acquire takes the write locks of writes and the read locks of reads (a name in both is
// write-locked), in sorted name order, so that two callers locking overlapping sets never
// deadlock. It returns when all are held, or when ctx is done with none held. The time it
// spent blocked, even if it then gave up, is added to optiming.From(ctx) when that is set.
func (m *Map) Acquire(ctx context.Context, writes, reads []string) (Unlock, error) {
	a := &acquisition{m: m}
	a.reqs = a.reqsBuf[:0]
	for _, n := range writes {
		a.reqs = append(a.reqs, request{n, true})
	}
	for _, n := range reads {
		a.reqs = append(a.reqs, request{n, false})
	}
	// Sort by name, writes first among equal names, then keep the first of each name.
	slices.SortFunc(a.reqs, func(a, b request) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.write == b.write {
			return 0
		}
		if a.write {
			return -1
		}
		return 1
	})
	a.reqs = slices.CompactFunc(a.reqs, func(a, b request) bool { return a.name == b.name })

	a.held = a.heldBuf[:0]
	timing := optiming.From(ctx)
	for _, r := range a.reqs {
		e := m.get(r.name, r.write)
		if err := e.lock.lock(ctx, r.write, timing); err != nil {
			m.put(r.name, r.write)
			a.release()
			return nil, fmt.Errorf("waiting for the lock of %q: %w", r.name, err)
		}
		a.held = append(a.held, e)
		a.writes = a.writes || r.write
	}
	if timing != nil && a.writes {
		a.timing, a.since = timing, time.Now()
	}
	return a.unlock, nil
}

// acquisition is what one Acquire call holds. Its arrays hold the requests and entries of
// the usual acquisitions (a bucket and a key or two) without allocations of their own.
type acquisition struct {
	m *Map
	// reqs are the requests, sorted and without repeated names; held[i] is the entry of
	// reqs[i], taken.
	reqs    []request
	held    []*entry
	reqsBuf [4]request
	heldBuf [4]*entry
	once    sync.Once
	// writes tells whether any lock held is a write lock; timing, when set, receives at
	// release how long they were held, counted from since.
	writes bool
	timing *optiming.Timing
	since  time.Time
}

// unlock releases the locks, once however often it is called.
func (a *acquisition) unlock() { a.once.Do(a.release) }

func (a *acquisition) release() {
	if a.timing != nil {
		a.timing.AddLockHeld(time.Since(a.since))
	}
	for i := len(a.held) - 1; i >= 0; i-- {
		a.held[i].lock.unlock(a.reqs[i].write)
		a.m.put(a.reqs[i].name, a.reqs[i].write)
	}
}

type request struct {
	name  string
	write bool
}

// maxFree bounds the entries a Map keeps for reuse.
const maxFree = 64

func (m *Map) get(name string, write bool) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if write && len(m.watches) > 0 {
		m.noteWrite(name)
	}
	if m.locks == nil {
		m.locks = make(map[string]*entry)
	}
	e := m.locks[name]
	if e == nil {
		if n := len(m.free); n > 0 {
			e, m.free = m.free[n-1], m.free[:n-1]
		} else {
			e = &entry{lock: newRWLock()}
		}
		m.locks[name] = e
	}
	e.refs++
	return e
}

func (m *Map) put(name string, write bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[name]
	e.refs--
	if len(m.watches) > 0 {
		m.noteDone(name, write, e.refs == 0)
	}
	if e.refs == 0 {
		delete(m.locks, name)
		// Nothing refers to an entry without holders or waiters, and its lock is free
		// with no one waiting: it can serve the next name as it is.
		if len(m.free) < maxFree {
			m.free = append(m.free, e)
		}
	}
}

// Len returns the number of names with holders or waiters (for tests and metrics).
func (m *Map) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.locks)
}

// rwlock is a reader/writer lock whose waits can be cancelled. It is phase-fair: a waiting
// writer stops new readers from entering, so that a stream of readers cannot starve writers;
// and when a writer leaves, the readers that waited for it enter before the next writer, so
// that a stream of writers cannot starve readers either (a reader waits for one writer's
// hold at most, not for every writer queued).
type rwlock struct {
	mu sync.Mutex
	// readers is the number of readers holding the lock, writer whether a writer does,
	// writersWaiting how many writers wait, readersWaiting how many readers wait; all
	// guarded by mu.
	readers        int
	writer         bool
	writersWaiting int
	readersWaiting int
	// readersGranted is how many of the waiting readers may still enter ahead of waiting
	// writers: set to readersWaiting when a writer leaves; guarded by mu.
	// INVARIANT: readersGranted <= readersWaiting; no writer enters while it is not 0.
	readersGranted int
	// changed is closed and replaced whenever the state changes while waiters is not 0,
	// waking every waiter to look again; guarded by mu.
	changed chan struct{}
	// waiters counts the goroutines waiting on changed; guarded by mu.
	waiters int
}

func newRWLock() rwlock { return rwlock{changed: make(chan struct{})} }

// lock takes the lock for writing or reading, or gives up when ctx is done. If it has to
// wait and timing is not nil, it adds the time it waited to timing; a lock taken at once
// reads no clock, so uncontended acquisitions cost the same with or without a Timing.
func (l *rwlock) lock(ctx context.Context, write bool, timing *optiming.Timing) error {
	var waitStart time.Time // set at the first wait when timing is not nil
	addWait := func() {
		if !waitStart.IsZero() {
			timing.AddLockWait(time.Since(waitStart))
		}
	}
	waiting := false // a reader counted in readersWaiting
	l.mu.Lock()
	if write {
		l.writersWaiting++
	}
	for {
		if write && !l.writer && l.readers == 0 && l.readersGranted == 0 {
			l.writersWaiting--
			l.writer = true
			l.mu.Unlock()
			addWait()
			return nil
		}
		if !write && !l.writer && (l.writersWaiting == 0 || waiting && l.readersGranted > 0) {
			if waiting {
				l.stopWaitingReader()
			}
			l.readers++
			l.mu.Unlock()
			addWait()
			return nil
		}
		if !write && !waiting {
			waiting = true
			l.readersWaiting++
		}
		ch := l.changed
		l.waiters++
		l.mu.Unlock()
		if timing != nil && waitStart.IsZero() {
			waitStart = time.Now()
		}
		select {
		case <-ch:
			l.mu.Lock()
			l.waiters--
		case <-ctx.Done():
			l.mu.Lock()
			l.waiters--
			if write {
				l.writersWaiting--
			} else if waiting {
				l.stopWaitingReader()
			}
			l.broadcast() // readers held back by this writer, or writers by this reader's grant, may go now
			l.mu.Unlock()
			addWait()
			return ctx.Err()
		}
	}
}

// stopWaitingReader counts a waiting reader out, entering or giving up, and with it one of
// the grants if any are left; l.mu must be held.
func (l *rwlock) stopWaitingReader() {
	l.readersWaiting--
	if l.readersGranted > 0 {
		l.readersGranted--
	}
	l.readersGranted = min(l.readersGranted, l.readersWaiting)
}

func (l *rwlock) unlock(write bool) {
	l.mu.Lock()
	if write {
		l.writer = false
		// The readers that waited for this writer go before the next one.
		l.readersGranted = l.readersWaiting
	} else {
		l.readers--
	}
	l.broadcast()
	l.mu.Unlock()
}

// broadcast wakes every waiter; l.mu must be held. Without waiters nobody holds the
// channel, which then stays as it is.
func (l *rwlock) broadcast() {
	if l.waiters == 0 {
		return
	}
	close(l.changed)
	l.changed = make(chan struct{})
}
