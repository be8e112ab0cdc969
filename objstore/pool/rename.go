package pool

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/nslock"
)

// RenameObject moves an object within a bucket. Within one set it is the set's
// metadata-only rename, under both keys' write locks. Across sets the object is copied
// into the destination's set with no lock held, then, under both keys' write locks, the
// copy is committed if the source is still the version copied, and the source is deleted:
// no reader sees a torn object (for an instant a reader may see both keys), and no reader
// of either key waits for the copy. In an unversioned bucket the rename runs under a
// rename-key intent of the journal (see renameKey), so that a crash never leaves it half
// done.
func (p *Pool) RenameObject(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions) (objstore.ObjectInfo, error) {
	return p.renameObject(ctx, bucket, srcKey, dstKey, opts, true)
}

// renameObject is RenameObject; journaled says whether an unversioned rename commits its
// own intent (not when it is a step of a journaled operation already).
func (p *Pool) renameObject(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions, journaled bool) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	var info objstore.ObjectInfo
	if mode != objstore.Unversioned {
		// In a versioned bucket a rename is S3's copy and delete: a new version at the
		// destination, a delete marker at the source; both keys keep their history.
		info, err = p.copyThenRename(ctx, bucket, srcKey, dstKey, opts, true, mode)
	} else {
		info, err = p.renameKey(ctx, bucket, srcKey, dstKey, opts, journaled)
	}
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventRename, Bucket: bucket, Key: srcKey, NewKey: dstKey, Info: info})
	return info, nil
}

// renameWithin is the set's rename, under both keys' write locks. With rec, the intent is
// committed once the locks are held (and, for NoReplace, once the destination is known to
// be free, so that recovery may replace whatever it finds there) and removed after.
func (p *Pool) renameWithin(ctx context.Context, s *erasureset.Set, bucket, srcKey, dstKey string, opts objstore.RenameOptions, rec *journal.Record) (objstore.ObjectInfo, error) {
	ctx, unlock, err := p.lockObject(ctx, bucket, []string{srcKey, dstKey}, nil)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer unlock()
	if rec != nil {
		if opts.NoReplace {
			switch _, err := s.VersionID(ctx, bucket, dstKey); {
			case err == nil:
				return objstore.ObjectInfo{}, fmt.Errorf("%w: %s/%s", objstore.ErrObjectExists, bucket, dstKey)
			case !errors.Is(err, objstore.ErrObjectNotFound):
				return objstore.ObjectInfo{}, err
			}
		}
		rec.SrcVersion = versionOf(ctx, s, bucket, srcKey) // under the locks: the version renamed
		id, err := p.beginActive(ctx, rec)
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		defer p.endIntent(ctx, id)
	}
	return s.RenameObject(ctx, bucket, srcKey, dstKey, opts)
}

// errSourceChanged is what a rename across sets meets when the source was replaced while
// it was being copied: the copy is dropped and the rename tried again.
var errSourceChanged = errors.New("the source changed while it was copied")

// renameTries is how many times a rename across sets copies without a lock before it gives
// up on a source that keeps changing and copies it under the locks.
const renameTries = 3

func (p *Pool) renameAcross(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions) (objstore.ObjectInfo, error) {
	for range renameTries {
		info, err := p.copyThenRename(ctx, bucket, srcKey, dstKey, opts, false, objstore.Unversioned)
		if !errors.Is(err, errSourceChanged) {
			return info, err
		}
	}
	return p.copyThenRename(ctx, bucket, srcKey, dstKey, opts, true, objstore.Unversioned)
}

// copyThenRename copies srcKey to dstKey (keeping its metadata and time) and deletes
// srcKey. With locked, both keys' write locks are held throughout; without, the copy is
// staged with none and the locks are taken to commit it, which fails with errSourceChanged
// if the source is no longer the version copied.
func (p *Pool) copyThenRename(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions, locked bool, mode objstore.Versioning) (objstore.ObjectInfo, error) {
	from, to := p.setFor(srcKey), p.setFor(dstKey)
	lockBoth := func(ctx context.Context) (context.Context, nslock.Unlock, error) {
		return p.lockObject(ctx, bucket, []string{srcKey, dstKey}, nil)
	}
	var release nslock.Unlock // the locks held once the copy is committed
	defer func() {
		if release != nil {
			release()
		}
	}()
	var h objstore.ObjectHandle
	var err error
	// lockedCtx is the context of the locks once held (their grant's fencing), for the
	// commit and the source's removal.
	var lockedCtx context.Context
	if locked {
		if lockedCtx, release, err = lockBoth(ctx); err != nil {
			return objstore.ObjectInfo{}, err
		}
		ctx = lockedCtx
		h, err = from.OpenObject(ctx, bucket, srcKey)
	} else {
		h, err = p.OpenObject(ctx, bucket, srcKey)
	}
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer h.Close()
	src := h.Info()
	copied, _ := erasureset.HandleVersion(h)
	var commitLock erasureset.CommitLock
	if !locked {
		commitLock = func(ctx context.Context) (context.Context, nslock.Unlock, error) {
			ctx, u, err := lockBoth(ctx)
			if err != nil {
				return nil, nil, err
			}
			now, err := from.VersionID(ctx, bucket, srcKey)
			if err == nil && now != copied {
				err = errSourceChanged
			}
			if err != nil {
				u()
				return nil, nil, err
			}
			// Kept past the commit, for the source's removal.
			release, lockedCtx = u, ctx
			return ctx, func() {}, nil
		}
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := h.WriteRange(ctx, pw, 0, src.Size)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	info, err := to.PutObject(ctx, bucket, dstKey, pr, src.Size, objstore.PutOptions{
		Metadata:      src.Metadata,
		ModTime:       src.ModTime,
		Preconditions: objstore.Preconditions{IfNoneMatch: opts.NoReplace},
		Versioning:    mode,
	}, commitLock)
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return objstore.ObjectInfo{}, fmt.Errorf("%w: %s/%s", objstore.ErrObjectExists, bucket, dstKey)
	}
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if _, err := from.DeleteVersion(lockedCtx, bucket, srcKey, objstore.DeleteOptions{}, mode); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
		return objstore.ObjectInfo{}, fmt.Errorf("rename: %s/%s copied to %s but not removed: %w", bucket, srcKey, dstKey, err)
	}
	// A multipart object becomes a single-part one in another set; its ETag changes to the
	// MD5 of its content, which is what it would be if written whole.
	return info, nil
}
