package erasureset

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// A write does not wait for a slow drive once a write quorum of the others has its commit:
// the slow drive's call goes on in the background (a late write) and the write returns.
// That keeps the durability contract (an acknowledged write is on a write quorum, as when a
// drive is offline) and takes one slow node out of every write's latency, but it lets a
// drive's calls for one key overtake each other: the next write of the key, under the key's
// lock once the first returned, could reach the slow drive before the first's late call and
// be overwritten by it there. So the set remembers, per key, which drives have a late write
// in flight, and:
//
//   - a write of the key that knows about late writes (a put's commit, a delete) leaves
//     those drives out, as it leaves out an offline drive, and queues the key's heal;
//   - a read never asks them (their copy may be older or newer than the quorum's; the
//     quorum decides without them);
//   - every other operation on the key, and the heal, first waits for them to end.
//
// A late call that fails marks its drive dirty and queues the key's heal, as a failed
// call does in the foreground. At most maxLateWrites calls are late at once in a set;
// beyond that, writes wait for every drive again, so a drive that stays slow costs memory
// and goroutines in proportion to that bound, not to the write rate.
type lateWrites struct {
	mu sync.Mutex
	// keys maps a key to its drives with a late call in flight (bit i: drive i) and the
	// channel closed when the last of them ends.
	keys map[healItem]*lateKey
	// inFlight counts late calls, all keys together (with the unordered ones); perDrive
	// counts the ordered ones per drive.
	inFlight int
	perDrive [16]int
}

// drives returns the drives with a late write of any key in flight.
func (l *lateWrites) drives() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m uint32
	for i, n := range l.perDrive {
		if n > 0 {
			m |= 1 << i
		}
	}
	return m
}

type lateKey struct {
	// count[i] is how many late calls drive i has in flight for the key.
	count [16]int
	mask  uint32
	done  chan struct{}
}

// maxLateWrites bounds the late calls in flight in one set.
const maxLateWrites = 256

// errLateWrite is the outcome a write fan-out gives a drive it did not wait for, and a
// read gives a drive it did not ask because a write's late call to it is in flight. The
// drive is not at fault: it is not marked dirty for it.
var errLateWrite = fmt.Errorf("%w: a write of this key still runs on the drive in the background", storage.ErrTimeout)

// mask returns the drives with a late call in flight for bucket/key.
func (l *lateWrites) mask(bucket, key string) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lk := l.keys[healItem{bucket, key}]; lk != nil {
		return lk.mask
	}
	return 0
}

// reserve claims room for n late calls; false when the set has too many in flight.
func (l *lateWrites) reserve(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight+n > maxLateWrites {
		return false
	}
	l.inFlight += n
	return true
}

// begin records a late call of drive i for bucket/key, within a reservation.
func (l *lateWrites) begin(bucket, key string, i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = make(map[healItem]*lateKey)
	}
	it := healItem{bucket, key}
	lk := l.keys[it]
	if lk == nil {
		lk = &lateKey{done: make(chan struct{})}
		l.keys[it] = lk
	}
	lk.count[i]++
	lk.mask |= 1 << i
	l.perDrive[i]++
}

// end records the end of a late call that begin recorded.
func (l *lateWrites) end(bucket, key string, i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.perDrive[i]--
	it := healItem{bucket, key}
	lk := l.keys[it]
	if lk == nil {
		return
	}
	if lk.count[i]--; lk.count[i] == 0 {
		lk.mask &^= 1 << i
	}
	if lk.mask == 0 {
		close(lk.done)
		delete(l.keys, it)
	}
}

// release returns n reserved slots that were not used.
func (l *lateWrites) release(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight -= n
}

// wait returns once no late call is in flight for bucket/key, or with ctx's error.
func (l *lateWrites) wait(ctx context.Context, bucket, key string) error {
	for {
		l.mu.Lock()
		lk := l.keys[healItem{bucket, key}]
		l.mu.Unlock()
		if lk == nil {
			return nil
		}
		select {
		case <-lk.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for a write's late drive calls on %s/%s: %w", bucket, key, context.Cause(ctx))
		}
	}
}

// hedgedWrite is a write fan-out that may leave slow drives' calls running (eachHedged).
type hedgedWrite struct {
	// bucket and key name what the late calls write, for the set's lateWrites.
	bucket, key string
	// quorum is how many calls must succeed before slow drives are left behind (0: none
	// need: a cleanup).
	quorum int
	// lateDone, if set, runs in the background once a late call ended, with its outcome,
	// before the call stops counting as late.
	lateDone func(i int, err error)
	// unordered says that the calls do not change the key's record (the removal of a
	// replaced version's data directory, whose name no later write reuses): calls left
	// behind are not recorded against the key, which later writes need not know of.
	unordered bool
}

// eachHedged runs fn for the drives marked in which, concurrently, as eachOf does; but once
// w.quorum calls have succeeded and only drives the latency measure marks slow are still
// running, it waits for those only as long as the others took plus slowMargin. A call it
// stops waiting for gets errLateWrite and goes on in the background, recorded in s.late
// until it ends (see lateWrites). Below the quorum it waits for every call, so that the
// caller can undo a write that failed.
func (s *Set) eachHedged(which []bool, w hedgedWrite, fn func(i int, d storage.Drive) error) []error {
	n := len(s.drives)
	slow := s.lat.slowMask()
	var targeted uint32
	for i := range n {
		if which == nil || which[i] {
			targeted |= 1 << i
		}
	}
	slow &= targeted
	if slow == 0 || !s.late.reserve(countBits(slow)) {
		if which == nil {
			return s.each(fn)
		}
		return s.eachOf(which, fn)
	}
	reserved := countBits(slow)
	type answer struct {
		i   int
		err error
	}
	errs := make([]error, n)
	// Buffered for every drive, so that a call left behind never blocks on its send.
	answers := make(chan answer, n)
	// left marks the calls the fan-out left behind, final once decided is closed: each
	// call reads it then to know whether its completion is its own to report.
	var mu sync.Mutex
	left := uint32(0)
	decided := make(chan struct{})
	for i, d := range s.drives {
		if targeted&(1<<i) == 0 {
			errs[i] = errSkipped
			continue
		}
		go func() {
			began := time.Now()
			err := fn(i, d)
			s.lat.observe(i, time.Since(began))
			answers <- answer{i, err}
			<-decided
			mu.Lock()
			wasLeft := left&(1<<i) != 0
			mu.Unlock()
			if wasLeft {
				if w.lateDone != nil {
					w.lateDone(i, err)
				}
				if w.unordered {
					s.late.release(1)
				} else {
					s.late.end(w.bucket, w.key, i)
				}
			}
		}()
	}
	began := time.Now()
	pending := awaitHedged(answers, func(a answer) (int, bool) {
		errs[a.i] = a.err
		return a.i, a.err == nil
	}, targeted, slow, w.quorum, began)
	// Leave the calls still running: record them before the caller returns (and
	// releases the key's lock), so that the key's next operation knows of them.
	mu.Lock()
	left = pending
	mu.Unlock()
	for i := range n {
		if pending&(1<<i) != 0 {
			if !w.unordered {
				s.late.begin(w.bucket, w.key, i)
			}
			errs[i] = errLateWrite
			reserved--
		}
	}
	s.late.release(reserved)
	close(decided)
	return errs
}

// countBits counts the drives in a mask.
func countBits(m uint32) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// awaitHedged receives the answers of the drive calls in pending (handle returns a call's
// drive and whether it succeeded) until every call has answered, or until only drives in
// slow are still running, quorum calls have succeeded and slowMargin more than the time
// since began has passed. It returns the calls left running.
func awaitHedged[T any](answers <-chan T, handle func(T) (i int, ok bool), pending, slow uint32, quorum int, began time.Time) uint32 {
	succeeded := 0
	var bound <-chan time.Time
	for pending != 0 {
		if bound == nil && pending&^slow == 0 && succeeded >= quorum {
			t := time.NewTimer(time.Since(began) + slowMargin)
			defer t.Stop()
			bound = t.C
		}
		select {
		case a := <-answers:
			i, ok := handle(a)
			pending &^= 1 << i
			if ok {
				succeeded++
			}
		case <-bound:
			return pending
		}
	}
	return 0
}
