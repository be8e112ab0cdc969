package erasureset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

// ErrCollectorOff is CollectGarbage's answer in a set whose drives other processes write
// (Config.SharedDrives) when its locker cannot watch all their writers (in a cluster: on a
// node that does not own the set).
var ErrCollectorOff = errors.New("the collector of unreferenced data runs only where every writer of the drives is seen (the set's owner)")

// garbageGrace is how old an unreferenced data directory must be before it is collected:
// between the rename of a new data directory into place and the commit of the metadata that
// names it, the directory is unreferenced for a moment, and must not be taken then.
const garbageGrace = time.Hour

// newDataDirID returns a data directory id whose first 6 bytes are its creation time in
// milliseconds (big endian) and the rest random, so that the collector can tell a
// directory's age from its name alone.
func newDataDirID(now time.Time) [16]byte {
	id := newID()
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(id[:6], ms[2:])
	return id
}

// dataDirTime returns the creation time encoded in a data directory's name.
func dataDirTime(name string) (time.Time, bool) {
	b, err := hex.DecodeString(name)
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))), true
}

// CollectGarbage removes, from every drive, the data directories of a bucket that no object
// on that drive names, that no open handle reads, and that are older than the grace period:
// what a crash between a commit and the removal of the replaced data leaves behind. It
// returns how many it removed.
//
// Its walk of a drive's records, in key order, does not see a record that an operation
// moves, or writes again, at a key the walk has passed. In this process such an operation
// claims the data directories it names (see claimSet): a directory claimed since the
// collection began is left for the next one. Where other processes write the drives
// (Config.SharedDrives), the collection also watches the set's locks (LockWatcher) and, after
// each drive's walk, reads again the records of the keys written meanwhile (revisit); it
// runs only where the locks can be watched (the set's owner), and fails with
// ErrCollectorOff elsewhere.
func (s *Set) CollectGarbage(ctx context.Context, bucket string) (int, error) {
	var watch *nslock.Watch
	if s.cfg.SharedDrives {
		w, ok := s.cfg.Locks.(LockWatcher)
		if !ok {
			return 0, ErrCollectorOff
		}
		wctx, lw, err := w.WatchLocks(ctx, s.cfg.Index, LockName(bucket, ""))
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCollectorOff, err)
		}
		defer lw.Stop()
		ctx, watch = wctx, lw
	}
	start := s.claims.startCollection()
	defer s.claims.endCollection()
	removed := make([]int, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		n, err := s.collectOn(ctx, d, bucket, start, watch)
		removed[i] = n
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		return nil
	})
	total := 0
	for _, n := range removed {
		total += n
	}
	return total, errors.Join(nonNil(errs)...)
}

var errUnreadable = errors.New("unreadable metadata: not collecting on this drive")

// collectOn is CollectGarbage on one drive; watch is the collection's watch of the set's
// locks, or nil.
func (s *Set) collectOn(ctx context.Context, d storage.Drive, bucket string, start uint64, watch *nslock.Watch) (int, error) {
	names, err := d.ListDir(ctx, bucket, layout.DataDir)
	if errors.Is(err, storage.ErrFileNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cutoff := s.cfg.Now().Add(-garbageGrace)
	var old []string
	for _, n := range names {
		n = strings.TrimSuffix(n, "/")
		if t, ok := dataDirTime(n); ok && t.Before(cutoff) {
			old = append(old, n)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	referenced := make(map[string]bool)
	err = d.Walk(ctx, bucket, storage.WalkOptions{Recursive: true, WithMeta: true}, func(e storage.Entry) error {
		switch {
		case e.Meta != nil:
			if !addReferences(referenced, e.Meta) {
				return errUnreadable
			}
		case errors.Is(e.MetaErr, storage.ErrFileNotFound):
			// Moved (claimed, or revisited) or removed since the walk listed it.
		default:
			return errUnreadable
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var rv *revisit
	if watch != nil {
		rv = &revisit{d: d, bucket: bucket, watch: watch, referenced: referenced, read: make(map[string]uint64)}
	}
	removed := 0
	for _, n := range old {
		// Settled again before each removal (at once when no key was written since):
		// what a writer did while the collector removed others is seen.
		if rv != nil {
			if err := rv.settle(ctx); err != nil {
				return removed, err
			}
		}
		if referenced[n] || s.pins.isPinned(bucket, n) || !s.claims.beginRemoval(bucket, n, start) {
			continue
		}
		err := d.Delete(ctx, bucket, layout.DataDirPath(n), true)
		s.claims.endRemoval(bucket, n)
		switch {
		case err == nil:
			removed++
		case errors.Is(err, storage.ErrStaleEpoch):
			// Another node owns the set now: its collector's, not this one's.
			return removed, err
		}
	}
	return removed, nil
}

// addReferences adds the data directories of every version of the record whose metadata
// (or header) is b to referenced; false when b does not decode.
func addReferences(referenced map[string]bool, b []byte) bool {
	m, err := meta.UnmarshalHeader(b)
	if err != nil {
		return false
	}
	// Every version's data is referenced, the noncurrent ones' too.
	for j := 0; j < versionCount(m); j++ {
		if dir := versionAt(m, j).DataDir; dir != ([16]byte{}) {
			referenced[hexID(dir)] = true
		}
	}
	return true
}

// The bounds of revisit: how many names it reads again at the most (more: the drive is
// left for the next collection), how many passes it makes over them, and the pause between
// passes, while writers hold some of them.
const (
	maxRevisits   = 10000
	revisitPasses = 20
	revisitPause  = 20 * time.Millisecond
)

// errKeptBusy is revisit's answer when names stayed locked for writing through its passes.
var errKeptBusy = errors.New("keys kept being written during the collection: not collecting on this drive this time")

// revisit adds to referenced the data directories of a drive's records at the keys that
// watch saw locked for writing since the collection began, each read as a sequence lock
// reads: when no writer holds the key, and again if one locked it during the read. Every
// record that moved or appeared at a key behind the walk was written under that key's
// lock, so once settled every record on the drive has been seen, and a later rename only
// moves a record seen. It takes no lock and makes no writer wait.
type revisit struct {
	d          storage.Drive
	bucket     string
	watch      *nslock.Watch
	referenced map[string]bool
	// read maps a lock name to its change count when last read; settled tells whether
	// every name had been read at its count when the watch had recorded events events.
	read    map[string]uint64
	settled bool
	events  uint64
}

// settle reads the names written since they were last read, in passes, until none is left
// (each pass after revisitPause while writers hold some of them).
func (r *revisit) settle(ctx context.Context) error {
	if r.settled && r.watch.Events() == r.events {
		return nil
	}
	r.settled = false
	for range revisitPasses {
		events := r.watch.Events()
		busy, err := r.pass(ctx)
		if err != nil {
			return err
		}
		if busy == 0 {
			r.settled, r.events = true, events
			return nil
		}
		t := time.NewTimer(revisitPause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
	return errKeptBusy
}

// pass reads each name written since it was last read and no writer holds, and returns
// how many it had to leave busy.
func (r *revisit) pass(ctx context.Context) (busy int, err error) {
	prefix := LockName(r.bucket, "")
	names := r.watch.Names()
	if len(names) > maxRevisits {
		return 0, fmt.Errorf("%d keys written during the collection (more than %d): not collecting on this drive this time", len(names), maxRevisits)
	}
	for _, name := range names {
		key := strings.TrimPrefix(name, prefix)
		if strings.Contains(key, "\x00") {
			continue // an upload's or a part's lock: no record of its own
		}
		before, held := r.watch.State(name)
		if n, ok := r.read[name]; ok && n == before {
			continue
		}
		if held {
			busy++
			continue
		}
		raw, err := r.d.ReadMeta(ctx, r.bucket, key)
		if after, held := r.watch.State(name); held || after != before {
			busy++
			continue
		}
		switch {
		case errors.Is(err, storage.ErrFileNotFound):
		case err != nil:
			return 0, fmt.Errorf("reading %s/%s again: %w", r.bucket, key, err)
		case !addReferences(r.referenced, raw):
			return 0, errUnreadable
		}
		r.read[name] = before
	}
	return busy, nil
}
