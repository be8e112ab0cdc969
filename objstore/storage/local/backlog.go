package local

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
//     without a record), for that path.
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
}

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

// add puts the metadata file rel, whose n bytes of record seq are at off in the log, in
// the backlog, replacing an older entry of the path.
func (b *backlog) add(rel string, at redoAt, n int) {
	b.mu.Lock()
	if b.entries == nil {
		b.entries = make(map[string]backlogEntry)
	}
	if _, ok := b.entries[rel]; !ok {
		b.size.Add(1)
	}
	b.entries[rel] = backlogEntry{seq: at.seq, off: at.off, n: n}
	b.mu.Unlock()
}

// clear forgets every entry: the log is closing. Once it returns no reader uses the log's
// descriptor.
func (b *backlog) clear() {
	b.mu.Lock()
	clear(b.entries)
	b.size.Store(0)
	b.mu.Unlock()
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
	if rel == "" {
		return l.writeBacklog(func(string) bool { return true }, "")
	}
	rel = strings.TrimSuffix(rel, "/")
	return l.writeBacklog(func(p string) bool {
		return strings.HasPrefix(p, rel) && (len(p) == len(rel) || p[len(rel)] == '/')
	}, "")
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
// no newer commit replaced meanwhile. An entry whose write fails stays; its record is
// durable, and Open redoes it if nothing else writes it.
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
	for _, it := range todo {
		// Holding writing, no entry leaves but by this loop, so no checkpoint can end the
		// generation: the record's bytes are still where the entry says, even if a newer
		// commit of the path has replaced the entry since the list was made.
		buf = slices.Grow(buf[:0], it.n)[:it.n]
		if _, err := preadFull(l.fd, buf, it.off); err != nil {
			return mapErr(&fs.PathError{Op: "read", Path: l.path, Err: err})
		}
		if err := l.writeTree(it.rel, buf); err != nil && !errors.Is(err, storage.ErrVolumeNotFound) {
			return fmt.Errorf("writing the metadata file %s from the redo log: %w", it.rel, err)
		}
		b.mu.Lock()
		if cur, ok := b.entries[it.rel]; ok && cur.seq == it.seq {
			delete(b.entries, it.rel)
			b.size.Add(-1)
		}
		b.mu.Unlock()
	}
	return nil
}
