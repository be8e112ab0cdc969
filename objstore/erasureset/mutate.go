package erasureset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// DeleteObject removes an object. The caller holds the key's write lock. Drives holding
// stale copies of a key no quorum holds are cleaned too, and the key is then reported
// missing.
func (s *Set) DeleteObject(ctx context.Context, bucket, key string) error {
	return s.deleteRecord(ctx, bucket, key, false)
}

// deleteRecord removes a key's record and every version's data: refused when a version
// is locked (a GOVERNANCE retention is bypassed with bypass).
func (s *Set) deleteRecord(ctx context.Context, bucket, key string, bypass bool) error {
	if err := checkKey(key); err != nil {
		return err
	}
	// As a put's commit, a delete neither waits for a slow drive nor touches one with a
	// late write of the key (see lateWrites).
	before, err := s.readVersionToRead(ctx, bucket, key)
	if errors.Is(err, objstore.ErrObjectNotFound) {
		s.removeStale(ctx, bucket, key, before)
		return err
	}
	if err != nil {
		return err
	}
	if lockedVersion(before.current, time.Now(), bypass) {
		return fmt.Errorf("%w: %s/%s holds a locked version", objstore.ErrObjectLocked, bucket, key)
	}
	// Once begun, the deletion runs to its end whatever the caller's context does, as a
	// commit does (see commit): a drive call left running would delete after the restore.
	ctx = context.WithoutCancel(ctx)
	m := before.current
	late := s.late.mask(bucket, key)
	hedge := hedgedWrite{bucket: bucket, key: key, quorum: WriteQuorum(m.Erasure.DataShards, m.Erasure.ParityShards), lateDone: func(i int, err error) {
		if err != nil && !errors.Is(err, storage.ErrFileNotFound) {
			s.dirty[i].Store(true)
			s.QueueHeal(bucket, key)
		}
	}}
	batchCtx, leave := storage.BatchDrives(ctx, s.drives, nil)
	errs := s.eachHedged(nil, hedge, func(i int, d storage.Drive) error {
		if late&(1<<i) != 0 {
			leave(i)
			s.dirty[i].Store(true) // healed once its late write ends; stale until then
			return errSkipped
		}
		if before.raw[i] == nil && errors.Is(before.errs[i], storage.ErrFileNotFound) {
			leave(i)
			return nil // nothing there
		}
		err := d.DeleteObject(batchCtx, bucket, key)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		return err
	})
	cleanup := context.WithoutCancel(ctx)
	if countNil(errs) < hedge.quorum {
		s.restore(cleanup, bucket, key, before, errs)
		return reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	if late != 0 {
		s.QueueHeal(bucket, key)
	}
	s.removeReplaced(cleanup, bucket, before, nil)
	return nil
}

// removeStale deletes the copies of a key left on drives (by a write that failed, or a
// delete a drive missed) when no quorum holds it: their records only. The data directories
// they name are left to the collector (CollectGarbage), which removes one only when no
// record on its drive names it: a copy no quorum holds may share its data directory with
// another key's record on its drive (see removeReplaced).
func (s *Set) removeStale(ctx context.Context, bucket, key string, v *version) {
	if v == nil {
		return
	}
	stale := make([]bool, len(s.drives))
	any := false
	for i := range stale {
		stale[i] = v.raw[i] != nil
		any = any || stale[i]
	}
	if !any {
		return
	}
	s.eachOf(stale, func(i int, d storage.Drive) error { return d.DeleteObject(ctx, bucket, key) })
}

// restore puts back, on the drives where an operation succeeded (errs[i] == nil), the
// metadata they held before it: the undo of a delete or metadata update below quorum.
func (s *Set) restore(ctx context.Context, bucket, key string, before *version, errs []error) {
	s.rollback(ctx, bucket, key, before, errs, [16]byte{})
}

// UpdateMetadata changes the current version's metadata, keeping its data, on every drive
// that holds it. The caller holds the key's write lock.
func (s *Set) UpdateMetadata(ctx context.Context, bucket, key string, patch objstore.MetadataPatch) (objstore.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	before, err := s.readVersion(ctx, bucket, key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if _, err := pickVersion(before.current, bucket, key, ""); err != nil {
		return objstore.ObjectInfo{}, err
	}
	md := maps.Clone(before.current.Metadata)
	if md == nil {
		md = make(map[string]string, len(patch.Set))
	}
	for _, k := range patch.Delete {
		delete(md, k)
	}
	maps.Copy(md, patch.Set)
	vid := newID()
	ctx = context.WithoutCancel(ctx)                                // a commit runs to its end: see commit
	batchCtx, _ := storage.BatchDrives(ctx, s.drives, before.holds) // every drive called reaches its commit
	errs := s.eachOf(before.holds, func(i int, d storage.Drive) error {
		dm := *before.decoded[i]
		dm.VersionID = vid
		dm.Metadata = md
		return d.CommitObject(batchCtx, bucket, key, dm.Marshal(), "", "")
	})
	m := before.current
	if countNil(errs) < WriteQuorum(m.Erasure.DataShards, m.Erasure.ParityShards) {
		s.restore(context.WithoutCancel(ctx), bucket, key, before, errs)
		return objstore.ObjectInfo{}, reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	if countNil(errs) < len(s.drives) {
		s.QueueHeal(bucket, key)
	}
	updated := *m
	updated.VersionID = vid
	updated.Metadata = md
	return objectInfo(bucket, key, &updated, nil), nil
}

// RenameObject moves an object to dstKey within this set, one atomic rename of its
// metadata per drive. The caller holds both keys' write locks.
func (s *Set) RenameObject(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions) (objstore.ObjectInfo, error) {
	if err := checkKey(srcKey); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := checkKey(dstKey); err != nil {
		return objstore.ObjectInfo{}, err
	}
	src, err := s.readVersion(ctx, bucket, srcKey)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if _, err := pickVersion(src.current, bucket, srcKey, ""); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if srcKey == dstKey {
		return objectInfo(bucket, dstKey, src.current, nil), nil
	}
	dst, err := s.readVersion(ctx, bucket, dstKey)
	switch {
	case err == nil:
		if opts.NoReplace {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: %s/%s", objstore.ErrObjectExists, bucket, dstKey)
		}
		if lockedVersion(dst.current, time.Now(), false) {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: %s/%s holds a locked version", objstore.ErrObjectLocked, bucket, dstKey)
		}
	case errors.Is(err, objstore.ErrObjectNotFound):
	case errors.Is(err, objstore.ErrReadQuorum) && !opts.NoReplace:
	default:
		return objstore.ObjectInfo{}, err
	}
	ctx = context.WithoutCancel(ctx) // a commit runs to its end: see commit
	// The records moved, and those at the destination that an undo puts back, hide their
	// data directories from a collector's walk meanwhile (see claimSet).
	release := s.claims.claim(bucket, append(versionDirs(src), versionDirs(dst)...), false)
	defer release()
	batchCtx, _ := storage.BatchDrives(ctx, s.drives, src.holds) // every drive called reaches its rename
	errs := s.eachOf(src.holds, func(i int, d storage.Drive) error {
		return d.RenameObject(batchCtx, bucket, srcKey, dstKey)
	})
	cleanup := context.WithoutCancel(ctx)
	m := src.current
	if countNil(errs) < WriteQuorum(m.Erasure.DataShards, m.Erasure.ParityShards) {
		s.undoRename(cleanup, bucket, srcKey, dstKey, dst, errs)
		return objstore.ObjectInfo{}, reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	// Drives that did not hold the moved version may still hold an older copy at either key.
	leftovers := make([]bool, len(s.drives))
	for i := range leftovers {
		leftovers[i] = errs[i] != nil && (src.raw[i] != nil || dst.raw[i] != nil)
	}
	s.eachOf(leftovers, func(i int, d storage.Drive) error {
		d.DeleteObject(cleanup, bucket, srcKey)
		d.DeleteObject(cleanup, bucket, dstKey)
		return nil
	})
	if countNil(errs) < len(s.drives) {
		s.QueueHeal(bucket, dstKey)
	}
	s.removeReplaced(cleanup, bucket, dst, m)
	return objectInfo(bucket, dstKey, m, nil), nil
}

// undoRename moves the object back on the drives where the rename succeeded and restores
// what they held at the destination.
func (s *Set) undoRename(ctx context.Context, bucket, srcKey, dstKey string, dst *version, errs []error) {
	done := make([]bool, len(errs))
	for i, err := range errs {
		done[i] = err == nil
	}
	s.eachOf(done, func(i int, d storage.Drive) error {
		err := d.RenameObject(ctx, bucket, dstKey, srcKey)
		if err == nil && dst.raw[i] != nil {
			err = d.CommitObject(ctx, bucket, dstKey, dst.raw[i], "", "")
		}
		if err != nil {
			s.log.Warn("undoing a rename below quorum", "drive", d.String(), "bucket", bucket, "src", srcKey, "dst", dstKey, "err", err)
			s.dirty[i].Store(true)
		}
		return nil
	})
}

// RenameOnDrives renames, on every drive, the record the drive holds at srcKey to dstKey
// (each drive's atomic, metadata-only rename), whatever version it is: the completion of a
// rename within the set that a crash interrupted, which left the object at srcKey on some
// drives and at dstKey on the others. It returns each drive's outcome: nil if the drive
// now holds dstKey, storage.ErrFileNotFound if it holds neither key. The caller holds both
// keys' write locks. The data directories of the records moved are claimed meanwhile (see
// claimSet), as RenameObject's are.
func (s *Set) RenameOnDrives(ctx context.Context, bucket, srcKey, dstKey string) []error {
	dirs := make([][]string, len(s.drives))
	s.each(func(i int, d storage.Drive) error {
		raw, err := d.ReadMeta(ctx, bucket, srcKey)
		switch {
		case errors.Is(err, storage.ErrFileNotFound):
		case err != nil:
			dirs[i] = []string{anyDir} // unread: whatever it names is moved unseen
		default:
			m, err := meta.Unmarshal(raw)
			if err != nil {
				dirs[i] = []string{anyDir}
			} else {
				dirs[i] = recordDirs(m)
			}
		}
		return nil
	})
	release := s.claims.claim(bucket, slices.Concat(dirs...), false)
	defer release()
	return s.each(func(i int, d storage.Drive) error {
		err := d.RenameObject(ctx, bucket, srcKey, dstKey)
		if errors.Is(err, storage.ErrFileNotFound) {
			_, err = d.ReadMeta(ctx, bucket, dstKey)
		}
		return err
	})
}
