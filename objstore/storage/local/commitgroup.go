package local

import (
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// groupWait bounds how long a drive's one-commit metadata write waits for the other commits
// on its file system to reach their rename before it commits the journal itself: about a
// journal commit's time on the disks measured, so that a slow drive delays the others by
// no more than the second commit it would have cost them.
const groupWait = 2 * time.Millisecond

// CommitGroups lets the drives of a process that share a file system share the journal
// commits of their metadata writes (writeMetaOneCommit, on ext4 with a journal). An
// object's commit runs on every drive of its set at once, and each drive's fsync commits
// the journal transaction that holds its rename; a drive whose rename comes after another
// drive's commit began waits for that commit and then makes one of its own (2.8 journal
// commits per object commit on 4 drives of one ext4, BENCHMARKS.md). With a group, a drive
// that has renamed first waits (groupWait at most) until every commit that began on its
// file system before that rename has renamed too, so that the first fsync commits all their
// renames at once and the later ones find their transactions committed. Drives opened with
// the same CommitGroups (Options.Commits) share a group per file system; it is safe for
// concurrent use.
type CommitGroups struct {
	mu     sync.Mutex
	groups map[uint64]*commitGroup // by the file system's device number. GUARDED_BY(mu).
}

// NewCommitGroups returns an empty set of groups, one to share among the drives of a
// deployment.
func NewCommitGroups() *CommitGroups {
	return &CommitGroups{groups: make(map[uint64]*commitGroup)}
}

// group returns the group of the file system on device dev.
func (c *CommitGroups) group(dev uint64) *commitGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[dev]
	if g == nil {
		g = &commitGroup{staging: make(map[uint64]struct{}), changed: make(chan struct{}), syncs: newSharedSyncfs()}
		if !journalsData(dev) {
			g.logs = newRedoGroup()
		}
		c.groups[dev] = g
	}
	return g
}

// commitGroup tracks the metadata writes of one file system between their start and their
// rename.
type commitGroup struct {
	mu sync.Mutex
	// next is the ticket of the next write to begin. GUARDED_BY(mu).
	next uint64
	// staging holds the tickets of the writes begun and not yet renamed (nor failed).
	// GUARDED_BY(mu).
	staging map[uint64]struct{}
	// changed is closed, and replaced, whenever a ticket leaves staging. GUARDED_BY(mu).
	changed chan struct{}
	// logs shares the syncs of the redo logs of the file system's drives; nil when the
	// file system journals file data (ext4's data=journal), where a write-out joins the
	// journal's running transaction, which one log's fdatasync need not commit.
	logs *redoGroup
	// syncs shares the drives' syncfs calls (SyncFileSystem, checkpoints).
	syncs *sharedSyncfs
}

// begin registers a write that will rename a file and returns its ticket.
func (g *commitGroup) begin() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.next
	g.next++
	g.staging[t] = struct{}{}
	return t
}

// renamed records that the write of ticket t renamed its file (or failed: it will not), and
// returns the ticket of the next write to begin: the writes to wait for (waitEarlier) are
// those before it.
func (g *commitGroup) renamed(t uint64) (upto uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.staging, t)
	close(g.changed)
	g.changed = make(chan struct{})
	return g.next
}

// waitEarlier waits until every write with a ticket before upto has renamed its file, or
// for bound, whichever comes first.
func (g *commitGroup) waitEarlier(upto uint64, bound time.Duration) {
	var timeout <-chan time.Time
	g.mu.Lock()
	for {
		waiting := false
		for t := range g.staging {
			if t < upto {
				waiting = true
				break
			}
		}
		if !waiting {
			g.mu.Unlock()
			return
		}
		changed := g.changed
		g.mu.Unlock()
		if timeout == nil {
			timer := time.NewTimer(bound)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-changed:
		case <-timeout:
			return
		}
		g.mu.Lock()
	}
}

var _ storage.CommitDomainer = (*Drive)(nil)

// CommitDomain is the drive's commit group (storage.CommitDomainer): drives with the same
// one share their journal commits; nil when the drive has no group (no journal to share,
// or no CommitGroups given).
func (d *Drive) CommitDomain() any {
	if d.group == nil {
		return nil
	}
	return d.group
}
