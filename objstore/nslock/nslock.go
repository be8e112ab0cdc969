// Package nslock provides the namespace locks of the object core: a reader/writer lock per
// name (bucket and key, or an upload), created on first use and dropped when its last holder
// leaves, so that memory follows the number of names in use, not the number stored.
//
// When the context of an acquisition carries an optiming.Timing, the time the acquisition
// spent blocked is added to it; without one no clock is read.
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
	reqs := make([]request, 0, len(writes)+len(reads))
	for _, n := range writes {
		reqs = append(reqs, request{n, true})
	}
	for _, n := range reads {
		reqs = append(reqs, request{n, false})
	}
	// Sort by name, writes first among equal names, then keep the first of each name.
	slices.SortFunc(reqs, func(a, b request) int {
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
	reqs = slices.CompactFunc(reqs, func(a, b request) bool { return a.name == b.name })

	held := make([]*entry, 0, len(reqs))
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].lock.unlock(reqs[i].write)
			m.put(reqs[i].name)
		}
	}
	timing := optiming.From(ctx)
	for _, r := range reqs {
		e := m.get(r.name)
		if err := e.lock.lock(ctx, r.write, timing); err != nil {
			m.put(r.name)
			release()
			return nil, fmt.Errorf("waiting for the lock of %q: %w", r.name, err)
		}
		held = append(held, e)
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

type request struct {
	name  string
	write bool
}

func (m *Map) get(name string) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = make(map[string]*entry)
	}
	e := m.locks[name]
	if e == nil {
		e = &entry{lock: newRWLock()}
		m.locks[name] = e
	}
	e.refs++
	return e
}

func (m *Map) put(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[name]
	e.refs--
	if e.refs == 0 {
		delete(m.locks, name)
	}
}

// Len returns the number of names with holders or waiters (for tests and metrics).
func (m *Map) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.locks)
}

// rwlock is a reader/writer lock whose waits can be cancelled. A waiting writer stops new
// readers from entering, so that a stream of readers cannot starve writers.
type rwlock struct {
	mu sync.Mutex
	// readers is the number of readers holding the lock, writer whether a writer does,
	// writersWaiting how many writers wait; all guarded by mu.
	readers        int
	writer         bool
	writersWaiting int
	// changed is closed and replaced whenever the state changes, waking every waiter to
	// look again; guarded by mu.
	changed chan struct{}
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
	l.mu.Lock()
	if write {
		l.writersWaiting++
	}
	for {
		if write && !l.writer && l.readers == 0 {
			l.writersWaiting--
			l.writer = true
			l.mu.Unlock()
			addWait()
			return nil
		}
		if !write && !l.writer && l.writersWaiting == 0 {
			l.readers++
			l.mu.Unlock()
			addWait()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		if timing != nil && waitStart.IsZero() {
			waitStart = time.Now()
		}
		select {
		case <-ch:
			l.mu.Lock()
		case <-ctx.Done():
			l.mu.Lock()
			if write {
				l.writersWaiting--
				l.broadcast() // readers held back by this writer may go now
			}
			l.mu.Unlock()
			addWait()
			return ctx.Err()
		}
	}
}

func (l *rwlock) unlock(write bool) {
	l.mu.Lock()
	if write {
		l.writer = false
	} else {
		l.readers--
	}
	l.broadcast()
	l.mu.Unlock()
}

// broadcast wakes every waiter; l.mu must be held.
func (l *rwlock) broadcast() {
	close(l.changed)
	l.changed = make(chan struct{})
}
