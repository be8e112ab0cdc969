package pool

import (
	"context"
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
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	opts.Versioning = mode
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
	return func(ctx context.Context) (context.Context, nslock.Unlock, error) {
		return p.lockKey(ctx, bucket, key, true)
	}
}

// OpenObject opens an object's latest version under the key's read lock, held only while
// opening.
func (p *Pool) OpenObject(ctx context.Context, bucket, key string) (objstore.ObjectHandle, error) {
	return p.OpenVersion(ctx, bucket, key, "")
}

// StatObject returns an object's latest version's information under the key's read lock.
func (p *Pool) StatObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	return p.StatVersion(ctx, bucket, key, "")
}

// DeleteObject removes an object under the key's write lock. In a versioned bucket it makes
// a delete marker the latest version, and is ErrObjectNotFound where there is no live
// object (what the mount's unlink needs).
func (p *Pool) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return err
	}
	ctx, unlock, err := p.lockKey(ctx, bucket, key, true)
	if err != nil {
		return err
	}
	defer unlock()
	s := p.setFor(key)
	if mode != objstore.Unversioned {
		if _, err := s.StatObject(ctx, bucket, key); err != nil {
			return err
		}
		if _, err := s.DeleteVersion(ctx, bucket, key, objstore.DeleteOptions{}, mode); err != nil {
			return err
		}
	} else if err := s.DeleteObject(ctx, bucket, key); err != nil {
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
	info, err := onKey(ctx, p, bucket, key, true, func(ctx context.Context, s *erasureset.Set) (objstore.ObjectInfo, error) {
		return s.UpdateMetadata(ctx, bucket, key, patch)
	})
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
	mode, err := p.writeVersioning(ctx, dst.Bucket)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	h, err := p.OpenVersion(ctx, src.Bucket, src.Key, opts.SrcVersionID)
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
		Lock:          opts.Lock,
		Versioning:    mode,
	}, p.commitLock(dst.Bucket, dst.Key))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventPut, Bucket: dst.Bucket, Key: dst.Key, Info: info})
	return info, nil
}
