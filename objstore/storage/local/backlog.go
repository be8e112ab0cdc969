package local

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// A small object's commit through the redo log is durable once its record is. Its metadata
// file in the tree, written right after every commit, cost a third of a small file's time
// through the mount (issue 11: a new file a drive for each object, staged and renamed,
// whose disk writes land between the next commits' device flushes); written on a goroutine
// after the commit, they cost the same. So the file waits in the log's backlog: the
// metadata file's path mapped to where its bytes are in the log. ReadMeta reads the
// backlog first. The tree gets the backlog's files in bulk, in path order and without
// syncs, when something needs the tree itself:
//
//   - a checkpoint, before its syncfs (the log full, SyncFileSystem, a settle, Close);
//   - a walk of the bucket, or a listing or change of a path under the directory, for the
//     entries under it (a walk reads the tree's directories);
//   - any change of the path that is not a logged commit (a deletion, a rename, a commit
//     without a record), for that path;
//   - a quiet moment: backlogIdle after the last commit, in the background, so that the
//     tree does not lag behind an idle drive, nor leave a large backlog to the next
//     checkpoint (it stalls commits), to Close or to a redo.
//
// A crash loses nothing: the log's records are redone at Open, as before. An object
// committed several times before its file is written costs one file (a directory made
// through the mount is committed three times: its mkdir, then tar's chmod and utimensat).
type backlog struct {
	// mu guards entries. It is held for reading across a read of an entry's bytes from
	// the log: the entry cannot leave meanwhile, so the generation cannot end (a checkpoint
	// writes every entry first) and its record cannot be overwritten, nor the log closed.
	mu      sync.RWMutex
	entries map[string]backlogEntry // by the metadata file's path, relative to the drive's root
	// size is len(entries), read without mu by the paths that find the backlog empty.
	size atomic.Int64
	// writing is held by the one writer of entries into the tree at a time: an entry is
	// removed only by the writer that wrote it, so that no older bytes are written over a
	// path after a newer change of it reached the tree.
	writing sync.Mutex
	// closed: the log is closing; nothing is written or read any more. GUARDED_BY(mu and
	// writing: set with both held)
	closed bool

	// The background write of a quiet moment, idleAfter (backlogIdle) after the last
	// entry: lastAdd is when that came (time since idleEpoch); armed, that the idle timer
	// (made at the first entry) is set.
	idleAfter time.Duration
	lastAdd   atomic.Int64
	armed     atomic.Bool
	idle      *time.Timer // GUARDED_BY(mu)
}

// backlogIdle is how long the backlog waits without a new entry before it is written into
// the tree in the background. Long enough that a burst of commits (a tar through the
// mount, a batch of small puts) is not interrupted by it, short enough that the tree
// follows an idle drive within seconds, as a file system writes back its dirty pages.
const backlogIdle = time.Second

// idleEpoch is the origin of backlog.lastAdd: a time on the monotonic clock.
var idleEpoch = time.Now()

// backlogEntry is where a metadata file's bytes are in the log.
type backlogEntry struct {
	seq uint64 // the record's sequence number, which tells a newer commit of the path
	off int64  // the data's offset in the log
	n   int    // its length
}

// redoAt is where a record's data went in the log: what a commit's metadata file waits in
// the backlog as.
type redoAt struct {
	seq uint64
	off int64
}

// addBacklog puts the metadata file rel, whose n bytes are in the log where at says, in
// the backlog, replacing an older entry of the path, and sets the idle timer. check (the
// bucket is there) runs first, under the backlog's lock: a bucket's removal drops the
// entries under it once it is gone (dropUnder), so an entry is either added before that
// and dropped, or finds the bucket gone.
func (l *redoLog) addBacklog(rel string, at redoAt, n int, check func() error) error {
	b := &l.backlog
	b.lastAdd.Store(int64(time.Since(idleEpoch)))
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := check(); err != nil {
		return err
	}
	if b.closed {
		return errRedoClosed // the record is redone at the next Open
	}
	if b.entries == nil {
		b.entries = make(map[string]backlogEntry)
	}
	if _, ok := b.entries[rel]; !ok {
		b.size.Add(1)
	}
	b.entries[rel] = backlogEntry{seq: at.seq, off: at.off, n: n}
	if b.armed.CompareAndSwap(false, true) {
		if b.idle == nil {
			b.idle = time.AfterFunc(b.idleAfter, l.writeIdle)
		} else {
			b.idle.Reset(b.idleAfter)
		}
	}
	return nil
}

// has reports whether the backlog holds the metadata file rel.
func (b *backlog) has(rel string) bool {
	if b.size.Load() == 0 {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.entries[rel]
	return ok
}

// replacePath runs change, a change of the metadata file rel in the tree made in place of
// the backlog's entry of it (a removal, a write of a newer commit), and drops the entry
// once change succeeded. No writer writes the entry meanwhile (writing is held), nor after.
// backlogged tells change whether the backlog held the path: its file may not be in the
// tree. A failed change keeps the entry, which is what the path still holds.
func (l *redoLog) replacePath(rel string, change func(backlogged bool) error) error {
	b := &l.backlog
	b.writing.Lock()
	defer b.writing.Unlock()
	backlogged := b.has(rel)
	if err := change(backlogged); err != nil {
		return err
	}
	if backlogged {
		b.mu.Lock()
		if _, ok := b.entries[rel]; ok {
			delete(b.entries, rel)
			b.size.Add(-1)
		}
		b.mu.Unlock()
	}
	return nil
}

// dropUnder forgets the entries at or under rel: the bucket there is gone.
func (l *redoLog) dropUnder(rel string) {
	b := &l.backlog
	if b.size.Load() == 0 {
		return
	}
	under := atOrUnder(rel)
	b.writing.Lock()
	defer b.writing.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for p := range b.entries {
		if under(p) {
			delete(b.entries, p)
			b.size.Add(-1)
		}
	}
}

// writeIdle writes the backlog into the tree once no entry has come for idleAfter; it
// runs on the idle timer, which it sets again for the rest of the time when an entry came
// meanwhile. A failed write leaves the entries for the next writer (a checkpoint reports
// it).
func (l *redoLog) writeIdle() {
	b := &l.backlog
	if since := time.Since(idleEpoch) - time.Duration(b.lastAdd.Load()); since < b.idleAfter {
		b.mu.Lock()
		if !b.closed {
			b.idle.Reset(b.idleAfter - since)
		}
		b.mu.Unlock()
		return
	}
	// Disarmed before the write: an entry that comes during it sets the timer again.
	b.armed.Store(false)
	if err := l.writeUnder(""); err != nil && b.armed.CompareAndSwap(false, true) {
		// Tried again after idleAfter; a checkpoint meanwhile reports the error.
		b.mu.Lock()
		if !b.closed {
			b.idle.Reset(b.idleAfter)
		}
		b.mu.Unlock()
	}
}

// clear forgets every entry and stops the idle timer: the log is closing. Once it returns
// no reader or writer uses the log's descriptor.
func (b *backlog) clear() {
	b.writing.Lock()
	defer b.writing.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.entries)
	b.size.Store(0)
	b.closed = true
	if b.idle != nil {
		b.idle.Stop()
	}
}

// read returns the metadata file at rel (a path relative to the drive's root, as bytes: a
// map lookup with string(rel) makes no copy) if the backlog holds it.
func (l *redoLog) read(rel []byte) ([]byte, bool, error) {
	b := &l.backlog
	if b.size.Load() == 0 {
		return nil, false, nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	e, ok := b.entries[string(rel)]
	if !ok {
		return nil, false, nil
	}
	data := make([]byte, e.n)
	if _, err := preadFull(l.fd, data, e.off); err != nil {
		return nil, false, mapErr(&fs.PathError{Op: "read", Path: l.path, Err: err})
	}
	return data, true, nil
}

// writeUnder writes the backlog's entries at or under rel (relative to the drive's root;
// "" for all of them) into the tree.
func (l *redoLog) writeUnder(rel string) error {
	if l.backlog.size.Load() == 0 {
		return nil
	}
	return l.writeBacklog(atOrUnder(rel), "")
}

// atOrUnder returns whether a path relative to the drive's root is rel or under it; every
// path is under "".
func atOrUnder(rel string) func(p string) bool {
	rel = strings.TrimSuffix(rel, "/")
	if rel == "" {
		return func(string) bool { return true }
	}
	return func(p string) bool {
		return strings.HasPrefix(p, rel) && (len(p) == len(rel) || p[len(rel)] == '/')
	}
}

// writePath writes the backlog's entry of the metadata file rel, if it has one, into the
// tree: before a change of the path that is not a logged commit.
func (l *redoLog) writePath(rel string) error {
	if l.backlog.size.Load() == 0 {
		return nil
	}
	return l.writeBacklog(nil, rel)
}

// writeBacklog writes the entries whose path match selects (or the one entry of path one,
// when match is nil) into the tree with l.writeTree, in path order, and removes each that
// no newer commit replaced meanwhile. An entry whose write fails stays (its record is
// durable, and Open redoes it if nothing else writes it); the others are written all the
// same, and the first failure returned.
func (l *redoLog) writeBacklog(match func(string) bool, one string) error {
	b := &l.backlog
	b.writing.Lock()
	defer b.writing.Unlock()
	type item struct {
		rel string
		backlogEntry
	}
	var todo []item
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil
	}
	if match == nil {
		if e, ok := b.entries[one]; ok {
			todo = append(todo, item{one, e})
		}
	} else {
		for p, e := range b.entries {
			if match(p) {
				todo = append(todo, item{p, e})
			}
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(todo, func(x, y item) int { return strings.Compare(x.rel, y.rel) })
	var buf []byte
	var first error
	for _, it := range todo {
		// Holding writing, no entry leaves but by this loop, so no checkpoint can end the
		// generation: the record's bytes are still where the entry says, even if a newer
		// commit of the path has replaced the entry since the list was made.
		buf = slices.Grow(buf[:0], it.n)[:it.n]
		if _, err := preadFull(l.fd, buf, it.off); err != nil {
			return mapErr(&fs.PathError{Op: "read", Path: l.path, Err: err})
		}
		if err := l.writeTree(it.rel, buf); err != nil && !errors.Is(err, storage.ErrVolumeNotFound) {
			if first == nil {
				first = fmt.Errorf("writing the metadata file %s from the redo log: %w", it.rel, err)
			}
			continue
		}
		b.mu.Lock()
		if cur, ok := b.entries[it.rel]; ok && cur.seq == it.seq {
			delete(b.entries, it.rel)
			b.size.Add(-1)
		}
		b.mu.Unlock()
	}
	return first
}

// treeHasRoom reports whether the drive's file system has room for a logged commit to
// leave its metadata file in the backlog: twice the log's size free, and twice as many
// free inodes as the log holds records. Below it the commit writes the file
// into the tree at once, as it did before the backlog, and fails if the tree cannot take
// it: a backlog larger than the tree can take would fail every checkpoint, and with it
// every later commit and removal on the drive, the removals that would make room
// included, and the redo at the next Open.
func (l *redoLog) treeHasRoom() bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(l.fd, &st); err != nil {
		return false
	}
	unit := uint64(st.Frsize) // the unit of f_bavail; f_bsize on systems without it
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return st.Bavail*unit >= 2*uint64(l.size) &&
		(st.Files == 0 || st.Ffree >= 2*uint64(l.size/redoBlock))
}
