package storage

import (
	"context"
	"sync"
	"time"
)

// CommitDomainer is a drive whose durable commits share a journal with other drives: those
// that return the same CommitDomain (a local drive on a journaling file system that other
// drives of the process share). One journal commit there makes every change made before it
// durable, whichever drive made it, so the drives of one object's commit that share a
// domain can all be made durable by one journal commit, if each syncs only once every one
// of them has made its change (see CommitBatch). nil: the drive shares nothing.
type CommitDomainer interface {
	CommitDomain() any
}

// CommitBatch is one object's commit on several drives, for the drives that share a commit
// domain: before its sync, each of them waits (for a bound) until every drive of its
// domain in the batch has reached its sync too, so that the first sync commits all their
// changes at once and the later ones find them committed. Without the batch, a drive whose
// goroutine ran first synced before the others had begun (two machines' cores, four
// drives), and the same object cost two journal commits. The batch changes no drive's
// durability: each still syncs before its CommitObject returns. Safe for concurrent use.
type CommitBatch struct {
	mu      sync.Mutex
	domains []batchDomain // GUARDED_BY(mu)
}

type batchDomain struct {
	id        any
	want, got int
	// all is closed once got reaches want.
	all chan struct{}
}

// Expect counts one more drive of domain id in the batch; nil ids are not counted. The
// caller calls it for every drive of the commit before any of them starts.
func (b *CommitBatch) Expect(id any) {
	if id == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.domains {
		if b.domains[i].id == id {
			b.domains[i].want++
			return
		}
	}
	b.domains = append(b.domains, batchDomain{id: id, want: 1, all: make(chan struct{})})
}

// Shared reports whether two drives or more of one domain are expected: only then can
// the batch save a journal commit.
func (b *CommitBatch) Shared() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.domains {
		if d.want > 1 {
			return true
		}
	}
	return false
}

// Arrive records that a drive of domain id is ready to sync, and waits until every drive
// of its domain expected in the batch has arrived or left, or for bound, whichever comes
// first. It reports false when the bound ended the wait.
func (b *CommitBatch) Arrive(id any, bound time.Duration) bool {
	all := b.count(id)
	if all == nil {
		return true
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-all:
		return true
	case <-t.C:
		return false
	}
}

// Leave records that a drive of domain id will not sync in this batch (it failed before,
// or commits without a sync), so that the others do not wait for it.
func (b *CommitBatch) Leave(id any) { b.count(id) }

// count counts a drive of domain id as arrived and returns the channel that is closed once
// all have, nil if they have.
func (b *CommitBatch) count(id any) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.domains {
		d := &b.domains[i]
		if d.id != id {
			continue
		}
		d.got++
		if d.got == d.want {
			close(d.all)
		} else if d.got < d.want {
			return d.all
		}
		return nil
	}
	return nil
}

// BatchDrives returns ctx carrying a commit batch of the drives that targets selects (all
// when nil) and that share a commit domain, when two or more do: their changes then share
// one journal commit, or one sync of their redo logs. The call for drive i must call
// leave(i) when it will not reach the drive's change (it failed first, or has nothing to
// change there), so that no other drive waits for it.
func BatchDrives(ctx context.Context, drives []Drive, targets []bool) (batchCtx context.Context, leave func(i int)) {
	batch := new(CommitBatch)
	domains := make([]any, len(drives))
	for i, d := range drives {
		if c, ok := d.(CommitDomainer); ok && (targets == nil || targets[i]) {
			domains[i] = c.CommitDomain()
			batch.Expect(domains[i])
		}
	}
	if !batch.Shared() {
		return ctx, func(int) {}
	}
	return WithCommitBatch(ctx, batch), func(i int) {
		if domains[i] != nil {
			batch.Leave(domains[i])
		}
	}
}

// commitBatchKey carries a CommitBatch in a context.
type commitBatchKey struct{}

// WithCommitBatch returns a context under which the drives' CommitObject calls belong to
// batch. A drive that ignores it (a remote drive: the value does not cross the network)
// simply syncs on its own.
func WithCommitBatch(ctx context.Context, batch *CommitBatch) context.Context {
	return context.WithValue(ctx, commitBatchKey{}, batch)
}

// CommitBatchOf returns the batch ctx carries, or nil.
func CommitBatchOf(ctx context.Context) *CommitBatch {
	b, _ := ctx.Value(commitBatchKey{}).(*CommitBatch)
	return b
}
