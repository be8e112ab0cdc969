package erasureset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// ErrCollectorOff is CollectGarbage's answer in a set whose drives other processes write
// (Config.SharedDrives).
var ErrCollectorOff = errors.New("the collector of unreferenced data does not run where other processes write the drives")

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
// An operation that moves a record across the walk's position, or writes a drive's record
// again, claims the data directories it names (see claimSet): a directory claimed since the
// collection began is left for the next one.
func (s *Set) CollectGarbage(ctx context.Context, bucket string) (int, error) {
	if s.cfg.SharedDrives {
		return 0, ErrCollectorOff
	}
	start := s.claims.startCollection()
	defer s.claims.endCollection()
	removed := make([]int, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		names, err := d.ListDir(ctx, bucket, layout.DataDir)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := time.Now
		if s.gcNow != nil {
			now = s.gcNow
		}
		cutoff := now().Add(-garbageGrace)
		var old []string
		for _, n := range names {
			n = strings.TrimSuffix(n, "/")
			if t, ok := dataDirTime(n); ok && t.Before(cutoff) {
				old = append(old, n)
			}
		}
		if len(old) == 0 {
			return nil
		}
		referenced := make(map[string]bool)
		err = d.Walk(ctx, bucket, storage.WalkOptions{Recursive: true, WithMeta: true}, func(e storage.Entry) error {
			if m, err := meta.UnmarshalHeader(e.Meta); err == nil {
				// Every version's data is referenced, the noncurrent ones' too.
				for j := 0; j < versionCount(m); j++ {
					if dir := versionAt(m, j).DataDir; dir != ([16]byte{}) {
						referenced[hexID(dir)] = true
					}
				}
			} else if errors.Is(e.MetaErr, storage.ErrFileNotFound) {
				// Renamed (a claim tells) or removed since the walk listed it.
			} else if e.MetaErr != nil || err != nil {
				return errors.New("unreadable metadata: not collecting on this drive")
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range old {
			if referenced[n] || s.pins.isPinned(bucket, n) || !s.claims.beginRemoval(bucket, n, start) {
				continue
			}
			if d.Delete(ctx, bucket, layout.DataDirPath(n), true) == nil {
				removed[i]++
			}
			s.claims.endRemoval(bucket, n)
		}
		return nil
	})
	total := 0
	for _, n := range removed {
		total += n
	}
	return total, errors.Join(nonNil(errs)...)
}
