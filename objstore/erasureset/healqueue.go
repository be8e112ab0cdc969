package erasureset

import (
	"context"
	"sync"
)

// healQueueSize bounds the objects waiting for a heal; beyond it, new requests are dropped
// (the periodic or offline full heal still finds them).
const healQueueSize = 10000

// healQueue holds objects found needing a heal by reads and writes, each once.
type healQueue struct {
	ch chan healItem
	mu sync.Mutex
	// queued holds the items in ch; guarded by mu.
	queued  map[healItem]bool
	dropped int
}

type healItem struct{ bucket, key string }

func (q *healQueue) init() {
	q.ch = make(chan healItem, healQueueSize)
	q.queued = make(map[healItem]bool)
}

// QueueHeal asks the background healer to heal an object, without waiting.
func (s *Set) QueueHeal(bucket, key string) {
	q := &s.heal
	it := healItem{bucket, key}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[it] {
		return
	}
	select {
	case q.ch <- it:
		q.queued[it] = true
	default:
		q.dropped++
	}
}

// RunHealer heals queued objects until ctx is done. report, if set, sees each result.
func (s *Set) RunHealer(ctx context.Context, report func(HealResult, error)) {
	q := &s.heal
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-q.ch:
			q.mu.Lock()
			delete(q.queued, it)
			q.mu.Unlock()
			res, err := s.HealObject(ctx, it.bucket, it.key, true)
			if err != nil {
				s.log.Warn("heal failed", "bucket", it.bucket, "key", it.key, "err", err)
			} else if len(res.Healed) > 0 || res.Dangling {
				s.log.Info("healed", "bucket", it.bucket, "key", it.key, "drives", res.Healed, "dangling", res.Dangling)
			}
			if report != nil {
				report(res, err)
			}
		}
	}
}

// HealPending returns the number of objects waiting in the heal queue.
func (s *Set) HealPending() int {
	s.heal.mu.Lock()
	defer s.heal.mu.Unlock()
	return len(s.heal.queued)
}
