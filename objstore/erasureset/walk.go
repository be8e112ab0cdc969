package erasureset

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/internal/stream"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Entry is an object, or a common prefix, of a set's listing.
type Entry struct {
	Key      string
	IsPrefix bool
	// Info describes the object's latest version when the walk asked for metadata.
	Info objstore.ObjectInfo
	// Record is the key's metadata record, every version of it (without inline data),
	// when the walk asked for metadata. Read only.
	Record *meta.Object
	// DeleteMarker tells that the latest version is a delete marker: a listing of objects
	// leaves the key out, one of versions lists it.
	DeleteMarker bool
}

var errStopWalk = errors.New("walk stopped")

// Walk lists the set's keys in order, merging the walks of every drive: a key is listed
// when at least k drives hold it, which is what makes it readable (a write reaches at least
// k drives; a delete leaves a copy on fewer). With opts.WithMeta, metadata comes from one
// drive whose writes have not failed (so its metadata is current), or, for the rare key it
// lacks, from a quorum read. An error from fn stops the walk and is returned.
func (s *Set) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(Entry) error) error {
	return s.walk(ctx, bucket, opts, s.k, fn)
}

// walk is Walk listing the keys held by at least minCount drives (healing lists them all).
func (s *Set) walk(ctx context.Context, bucket string, opts storage.WalkOptions, minCount int, fn func(Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	withMeta := opts.WithMeta
	source := s.metaSource()
	// A listing does not wait for slow drives (as a GET does not): it walks the others,
	// lists the keys enough of them hold, and confirms with a quorum read the keys fewer
	// hold than the full walk would need (some of their copies may be on the slow drives).
	// A heal's walk (minCount 1) walks every drive.
	var skip uint32
	confirmBelow := minCount
	if minCount == s.k {
		skip = s.lat.slowMask() &^ (1 << source)
		// At most k-1 left aside, so that every readable key is on a drive walked.
		if nSkip := countBits(skip); nSkip > 0 && nSkip < s.k && len(s.drives)-nSkip >= s.k {
			minCount = max(1, minCount-nSkip)
		} else {
			skip = 0
		}
	}
	streams := make([]*stream.Stream[storage.Entry], len(s.drives))
	for i, d := range s.drives {
		if skip&(1<<i) != 0 {
			continue
		}
		o := opts
		o.WithMeta = withMeta && i == source
		streams[i] = stream.Start(ctx, func(ctx context.Context, emit func(storage.Entry) error) error {
			return d.Walk(ctx, bucket, o, emit)
		})
	}
	defer func() {
		for _, st := range streams {
			if st != nil {
				st.Stop()
			}
		}
	}()

	for {
		var key string
		found := false
		for _, st := range streams {
			if st == nil {
				continue
			}
			if e, ok := st.Peek(); ok && (!found || e.Key < key) {
				key, found = e.Key, true
			}
		}
		if !found {
			break
		}
		count := 0
		var entry storage.Entry
		var fromSource bool
		for i, st := range streams {
			if st == nil {
				continue
			}
			if e, ok := st.Peek(); ok && e.Key == key {
				count++
				if !fromSource || i == source {
					entry, fromSource = *e, i == source
				}
				st.Next()
			}
		}
		if count < minCount {
			continue
		}
		if count < confirmBelow && !entry.IsPrefix && !withMeta {
			// With metadata, entryRecord below reads a quorum for such a key anyway.
			if _, err := s.readVersionToRead(ctx, bucket, key); errors.Is(err, objstore.ErrObjectNotFound) {
				continue
			} else if err != nil {
				return err
			}
		}
		if count < confirmBelow {
			fromSource = false
		}
		out := Entry{Key: key, IsPrefix: entry.IsPrefix}
		if withMeta && !entry.IsPrefix {
			rec, ok, err := s.entryRecord(ctx, bucket, entry, fromSource)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			out.Info = objectInfo(bucket, key, rec, nil)
			out.Record = rec
			out.DeleteMarker = rec.DeleteMarker
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return s.walkErr(streams, bucket)
}

// metaSource picks the drive listings take metadata from: the first whose writes have not
// failed since it was last healed, nor been left out or left running late (lateWrites).
func (s *Set) metaSource() int {
	// Preferably not a slow drive, nor one a write's late commit is still on its way to.
	slow := s.lat.slowMask() | s.late.drives()
	first := -1
	for i := range s.drives {
		if s.dirty[i].Load() {
			continue
		}
		if slow&(1<<i) == 0 {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return max(first, 0)
}

// entryRecord returns an entry's metadata record from the metadata the walk read, or from
// a quorum read when that is missing or unusable; ok is false if the key is gone.
func (s *Set) entryRecord(ctx context.Context, bucket string, e storage.Entry, fromSource bool) (*meta.Object, bool, error) {
	if fromSource && e.MetaErr == nil && e.Meta != nil {
		if m, err := meta.UnmarshalHeader(e.Meta); err == nil {
			return m, true, nil
		}
	}
	v, err := s.readVersionToRead(ctx, bucket, e.Key)
	switch {
	case err == nil:
		if v.needsHeal() {
			s.QueueHeal(bucket, e.Key)
		}
		return v.current, true, nil
	case errors.Is(err, objstore.ErrObjectNotFound):
		return nil, false, nil
	default:
		return nil, false, err
	}
}

// walkErr decides whether the merged walk was complete: enough drives must have walked to
// the end for every readable key to have been seen.
func (s *Set) walkErr(streams []*stream.Stream[storage.Entry], bucket string) error {
	var failed, noBucket int
	var errs []error
	for _, st := range streams {
		if st == nil {
			// A slow drive left aside is no failure: a readable key is on k drives that
			// answer, so on k minus the drives left aside of those walked, the count
			// the walk lists (and confirms) a key from.
			continue
		}
		err := st.Err()
		switch {
		case err == nil:
		case errors.Is(err, storage.ErrVolumeNotFound):
			noBucket++
			failed++
		default:
			failed++
			errs = append(errs, err)
		}
	}
	n := len(s.drives)
	if noBucket > n/2 {
		return fmt.Errorf("%w: %s", objstore.ErrBucketNotFound, bucket)
	}
	if n-failed < s.k {
		return fmt.Errorf("%w: listing %s: %w", objstore.ErrReadQuorum, bucket, errors.Join(errs...))
	}
	return nil
}
