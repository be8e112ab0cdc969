package owner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/flashstor/flashstor/objstore/nslock"
)

// grant is a lock this node granted to another node's request.
type grant struct {
	term   *term
	unlock nslock.Unlock
	// expires is when the reaper releases the grant unless refreshed. GUARDED_BY(Node.mu).
	expires time.Time
	ttl     time.Duration
}

// grantLocal takes set's locks of writes and reads as the set's owner, for a request of
// this node or another's. It fails with ErrNotOwner, without waiting, when this node does
// not own the set or its term is no longer live, and it checks the term again once the
// locks are held (the wait may outlast the term).
func (n *Node) grantLocal(ctx context.Context, set int, writes, reads []string) (*term, nslock.Unlock, error) {
	t, err := n.liveTerm(set)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := n.locks[set].Acquire(ctx, writes, reads)
	if err != nil {
		return nil, nil, err
	}
	if !t.live() {
		unlock()
		return nil, nil, fmt.Errorf("%w: node %s, set %d: the term ended while waiting", ErrNotOwner, n.cfg.Node, set)
	}
	return t, unlock, nil
}

// grantRemote grants as grantLocal and records the grant under a new id, released by its
// holder, when its term ends, or when ttl passes without a refresh.
func (n *Node) grantRemote(ctx context.Context, set int, writes, reads []string, ttl time.Duration) (id string, epoch uint64, err error) {
	t, unlock, err := n.grantLocal(ctx, set, writes, reads)
	if err != nil {
		return "", 0, err
	}
	var b [16]byte
	rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	g := &grant{term: t, unlock: unlock, expires: time.Now().Add(ttl), ttl: ttl}
	n.mu.Lock()
	select {
	case <-t.ended:
		// endTerm ran between the check and here: it did not see this grant.
		n.mu.Unlock()
		unlock()
		return "", 0, fmt.Errorf("%w: node %s, set %d", ErrNotOwner, n.cfg.Node, set)
	default:
	}
	n.grants[id] = g
	n.mu.Unlock()
	return id, t.epoch, nil
}

// refresh extends grant id by its TTL; false if it is gone.
func (n *Node) refresh(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	g, ok := n.grants[id]
	if ok {
		g.expires = time.Now().Add(g.ttl)
	}
	return ok
}

// release releases grant id if it is still there.
func (n *Node) release(id string) {
	n.mu.Lock()
	g, ok := n.grants[id]
	delete(n.grants, id)
	n.mu.Unlock()
	if ok {
		g.unlock()
	}
}

// reapInterval is how often expired grants are looked for: a dead holder's locks are free
// at most this long after their TTL.
const reapInterval = 100 * time.Millisecond

// reap releases the grants whose TTL passed, until the node closes; then every grant.
func (n *Node) reap() {
	tick := time.NewTicker(reapInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			n.releaseExpired(time.Time{})
			return
		case now := <-tick.C:
			n.releaseExpired(now)
		}
	}
}

// releaseExpired releases the grants expired at now (all of them for the zero time).
func (n *Node) releaseExpired(now time.Time) {
	var gone []*grant
	n.mu.Lock()
	for id, g := range n.grants {
		if now.IsZero() || g.expires.Before(now) {
			gone = append(gone, g)
			delete(n.grants, id)
		}
	}
	n.mu.Unlock()
	for _, g := range gone {
		g.unlock()
	}
}

// Grants returns the number of remote grants held (for tests and metrics).
func (n *Node) Grants() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.grants)
}
