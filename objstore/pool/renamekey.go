package pool

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
)

// The rename of one unversioned object under a rename-key intent. Within a set the drives
// rename the key one by one: each drive's rename is atomic, the set's is not, and a crash
// in the middle leaves the object at the old key on some drives and at the new key on the
// others (in a set of 16 drives, 12+4, on fewer than k under each: readable under neither
// key, and dangling to a heal). Across sets a crash may leave the copy committed and the
// source not yet removed. The intent, committed before any drive changes and removed
// after, lets RecoverJournal complete the rename (finishRenameKey), and tells the heal to
// leave the key's copies alone meanwhile (intentNames).

// renameKey renames an unversioned object; with journaled, under a rename-key intent. A
// set of one drive needs none: its drive's rename is atomic.
func (p *Pool) renameKey(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions, journaled bool) (objstore.ObjectInfo, error) {
	from, to := p.setFor(srcKey), p.setFor(dstKey)
	rec := &journal.Record{Op: journal.OpRenameKey, Bucket: bucket, Src: srcKey, Dst: dstKey, NoReplace: opts.NoReplace}
	if !journaled || rec.Check() != nil || from == to && len(from.Drives()) == 1 {
		// (A rename the record cannot describe, of a key onto itself or an empty key, is
		// refused or a no-op in the set: nothing to complete.)
		rec = nil
	}
	if from == to {
		return p.renameWithin(ctx, from, bucket, srcKey, dstKey, opts, rec)
	}
	if rec != nil {
		// Read under a read lock of its own (the copy takes the write locks only to
		// commit; in a cluster a read carries its grant's epoch): if the source is
		// replaced before the copy, the record names an older version, and a recovery
		// after a crash leaves the keys as they are (the source there, the copy too if
		// committed) instead of completing the rename.
		lctx, unlock, err := p.lockObject(ctx, bucket, nil, []string{srcKey})
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		rec.SrcVersion = versionOf(lctx, from, bucket, srcKey)
		unlock()
		id, err := p.beginActive(ctx, rec)
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		defer p.endIntent(ctx, id)
	}
	return p.renameAcross(ctx, bucket, srcKey, dstKey, opts)
}

// endIntent removes the intent of a rename that returned, whether it succeeded or not:
// the process saw its outcome (a set's rename that failed moved the object back), so no
// recovery is to redo it.
func (p *Pool) endIntent(ctx context.Context, id string) {
	if err := p.endActive(context.WithoutCancel(ctx), id); err != nil {
		p.log.Warn("pool: the journal record of a finished rename stays", "id", id, "err", err)
	}
}

// finishRenameKey completes a rename-key that a crash interrupted, from wherever it
// stopped (every step may be taken again).
//
// Within a set: the set's rename if the source is whole; otherwise, or if that fails, the
// drives still holding the source rename it (finishDriveRenames): the object ends up at
// the destination on every drive. The destination is replaced even for NoReplace, which
// the rename checked under its locks before its intent was committed.
//
// Across sets: done if the source is gone; if the destination is a committed copy of the
// source (size, time and, but for a multipart source, ETag alike), the source is removed;
// otherwise the copy and removal run again (with NoReplace: refused if the destination
// exists, as the rename itself would have been).
//
// A record naming the source's version (SrcVersion) is done if the source holds another
// one: the rename finished and the key was written again, and the crash lost the removal
// of the record (which is not synced).
func (p *Pool) finishRenameKey(ctx context.Context, rec *journal.Record) error {
	bucket, src, dst := rec.Bucket, rec.Src, rec.Dst
	if rec.SrcVersion != "" {
		if v := versionOf(ctx, p.setFor(src), bucket, src); v != "" && v != rec.SrcVersion {
			return nil
		}
	}
	if p.SetIndex(src) == p.SetIndex(dst) {
		_, err := p.renameObject(ctx, bucket, src, dst, objstore.RenameOptions{}, false)
		if err == nil || ctx.Err() != nil {
			return err
		}
		err = p.finishDriveRenames(ctx, bucket, src, dst)
		if errors.Is(err, objstore.ErrObjectNotFound) {
			return nil
		}
		return err
	}
	return p.healedRetry(ctx, bucket, []string{src, dst}, func() error {
		return p.finishCopy(ctx, bucket, src, dst, rec.NoReplace)
	})
}

// finishCopy is finishRenameKey across sets.
func (p *Pool) finishCopy(ctx context.Context, bucket, src, dst string, noReplace bool) error {
	ctx, unlock, err := p.lockObject(ctx, bucket, []string{src, dst}, nil)
	if err != nil {
		return err
	}
	from := p.setFor(src)
	srcInfo, err := from.StatObject(ctx, bucket, src)
	if err != nil {
		unlock()
		return err // ErrObjectNotFound: nothing left to move
	}
	dstInfo, err := p.setFor(dst).StatObject(ctx, bucket, dst)
	if err == nil && sameCopy(srcInfo, dstInfo) {
		defer unlock()
		if err := from.DeleteObject(context.WithoutCancel(ctx), bucket, src); err != nil {
			return fmt.Errorf("rename: removing %s/%s, copied to %s: %w", bucket, src, dst, err)
		}
		p.publish(ctx, objstore.Event{Type: objstore.EventRename, Bucket: bucket, Key: src, NewKey: dst, Info: dstInfo})
		return nil
	}
	unlock()
	_, err = p.renameObject(ctx, bucket, src, dst, objstore.RenameOptions{NoReplace: noReplace}, false)
	if errors.Is(err, objstore.ErrObjectExists) {
		p.log.Warn("pool: an interrupted rename with no-replace finds its destination taken: not renamed", "bucket", bucket, "src", src, "dst", dst)
		return nil
	}
	return err
}

// sameCopy reports whether b is what a rename across sets writes from a: the same size
// and time, and the same ETag unless a is a multipart object (whose copy is written whole,
// with the ETag of its content).
func sameCopy(a, b objstore.ObjectInfo) bool {
	return a.Size == b.Size && a.ModTime.Equal(b.ModTime) && (a.ETag == b.ETag || strings.Contains(a.ETag, "-"))
}

// intentNames is the sets' IntentCheck: whether a journal record names bucket/key. When
// the journal cannot be read it answers true: the heal then leaves the key for later.
func (p *Pool) intentNames(ctx context.Context, bucket, key string) bool {
	named, err := p.journal.Holds(ctx, bucket, key)
	if err != nil {
		p.log.Warn("pool: the journal cannot say whether an intent names a key; heal leaves it", "bucket", bucket, "key", key, "err", err)
	}
	return named
}

// versionOf returns the version id (hex) of the object at key, or "" if it cannot be read
// (missing, or not whole: a rename stopped half way).
func versionOf(ctx context.Context, s *erasureset.Set, bucket, key string) string {
	v, err := s.VersionID(ctx, bucket, key)
	if err != nil {
		return ""
	}
	return hex.EncodeToString(v[:])
}
