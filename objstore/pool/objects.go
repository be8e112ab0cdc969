package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/nslock"
)

// PutObject stores an object. Its body is read and staged on the drives without any lock;
// the key's write lock is held only for the commit.
func (p *Pool) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	info, err := p.setFor(key).PutObject(ctx, bucket, key, r, size, opts, p.commitLock(bucket, key))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventPut, Bucket: bucket, Key: key, Info: info})
	return info, nil
}

// commitLock returns the lock a write of key takes for its commit: the bucket's read lock
// and the key's write lock.
func (p *Pool) commitLock(bucket, key string) erasureset.CommitLock {
	return func(ctx context.Context) (nslock.Unlock, error) { return p.lockKey(ctx, bucket, key, true) }
}

// OpenObject opens an object under the key's read lock, held only while opening.
func (p *Pool) OpenObject(ctx context.Context, bucket, key string) (objstore.ObjectHandle, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, err
	}
	unlock, err := p.lockKey(ctx, bucket, key, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return p.setFor(key).OpenObject(ctx, bucket, key)
}

// StatObject returns an object's information under the key's read lock.
func (p *Pool) StatObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	unlock, err := p.lockKey(ctx, bucket, key, false)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer unlock()
	return p.setFor(key).StatObject(ctx, bucket, key)
}

// DeleteObject removes an object under the key's write lock.
func (p *Pool) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	unlock, err := p.lockKey(ctx, bucket, key, true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := p.setFor(key).DeleteObject(ctx, bucket, key); err != nil {
		return err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventDelete, Bucket: bucket, Key: key})
	return nil
}

// DeleteObjects removes several objects, one after the other.
func (p *Pool) DeleteObjects(ctx context.Context, bucket string, keys []string) []error {
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = p.DeleteObject(ctx, bucket, k)
	}
	return errs
}

// UpdateObjectMetadata changes an object's metadata under the key's write lock.
func (p *Pool) UpdateObjectMetadata(ctx context.Context, bucket, key string, patch objstore.MetadataPatch) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	unlock, err := p.lockKey(ctx, bucket, key, true)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer unlock()
	info, err := p.setFor(key).UpdateMetadata(ctx, bucket, key, patch)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventMetadata, Bucket: bucket, Key: key, Info: info})
	return info, nil
}

// CopyObject copies src to dst. The source is opened under its read lock, held only while
// opening (the handle keeps its data readable after), the copy is staged in dst's set
// without any lock, and dst's write lock is held only for the commit.
func (p *Pool) CopyObject(ctx context.Context, src, dst objstore.ObjectRef, opts objstore.CopyOptions) (objstore.ObjectInfo, error) {
	if err := checkBucketName(src.Bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := checkBucketName(dst.Bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	h, err := p.OpenObject(ctx, src.Bucket, src.Key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer h.Close()
	info := h.Info()
	if opts.SrcCheck != nil {
		if err := opts.SrcCheck(info); err != nil {
			return objstore.ObjectInfo{}, err
		}
	}
	offset, length := int64(0), info.Size
	if opts.Range != nil {
		offset, length = opts.Range.Offset, opts.Range.Length
		if offset < 0 || length < 0 || offset+length > info.Size {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: %d bytes at %d of %d", objstore.ErrInvalidRange, length, offset, info.Size)
		}
	}
	md := maps.Clone(info.Metadata)
	if opts.ReplaceMetadata {
		md = maps.Clone(opts.Metadata)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := h.WriteRange(ctx, pw, offset, length)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	info, err = p.setFor(dst.Key).PutObject(ctx, dst.Bucket, dst.Key, pr, length, objstore.PutOptions{
		Metadata:      md,
		Preconditions: opts.Preconditions,
	}, p.commitLock(dst.Bucket, dst.Key))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventPut, Bucket: dst.Bucket, Key: dst.Key, Info: info})
	return info, nil
}

// RenameObject moves an object within a bucket. Within one set it is the set's atomic,
// metadata-only rename; across sets the object is copied (keeping its metadata and time)
// and then the source is deleted, both under the two keys' write locks, so that no reader
// sees a torn object (for an instant a reader may see both keys).
func (p *Pool) RenameObject(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	unlock, err := p.lockObject(ctx, bucket, []string{srcKey, dstKey}, nil)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer unlock()
	from, to := p.setFor(srcKey), p.setFor(dstKey)
	var info objstore.ObjectInfo
	if from == to {
		info, err = from.RenameObject(ctx, bucket, srcKey, dstKey, opts)
	} else {
		info, err = p.renameAcross(ctx, bucket, srcKey, dstKey, opts)
	}
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventRename, Bucket: bucket, Key: srcKey, NewKey: dstKey, Info: info})
	return info, nil
}

func (p *Pool) renameAcross(ctx context.Context, bucket, srcKey, dstKey string, opts objstore.RenameOptions) (objstore.ObjectInfo, error) {
	from, to := p.setFor(srcKey), p.setFor(dstKey)
	h, err := from.OpenObject(ctx, bucket, srcKey)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer h.Close()
	src := h.Info()
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
	}, nil)
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return objstore.ObjectInfo{}, fmt.Errorf("%w: %s/%s", objstore.ErrObjectExists, bucket, dstKey)
	}
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := from.DeleteObject(ctx, bucket, srcKey); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
		return objstore.ObjectInfo{}, fmt.Errorf("rename: %s/%s copied to %s but not removed: %w", bucket, srcKey, dstKey, err)
	}
	// A multipart object becomes a single-part one in another set; its ETag changes to the
	// MD5 of its content, which is what it would be if written whole.
	return info, nil
}
