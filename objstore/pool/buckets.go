package pool

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
)

// MakeBucket creates a bucket in every set.
func (p *Pool) MakeBucket(ctx context.Context, bucket string, opts objstore.MakeBucketOptions) error {
	if err := layout.CheckBucketName(bucket); err != nil {
		return fmt.Errorf("%w: %q: %w", objstore.ErrInvalidBucketName, bucket, err)
	}
	ctx, unlock, err := p.grant(ctx, []string{bucketLock(bucket)}, nil)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := p.sets[0].BucketCreated(ctx, bucket); err == nil {
		return fmt.Errorf("%w: %s", objstore.ErrBucketExists, bucket)
	} else if !errors.Is(err, objstore.ErrBucketNotFound) {
		return err
	}
	// A drive that was offline when an earlier bucket of this name was deleted may still
	// hold its configuration: the new bucket starts without one.
	if err := p.clearBucketDocs(ctx, bucket); err != nil {
		return fmt.Errorf("creating bucket %s: clearing an old configuration: %w", bucket, err)
	}
	for i, s := range p.sets {
		if err := s.MakeBucket(ctx, bucket); err != nil && !errors.Is(err, objstore.ErrBucketExists) {
			// Leave no set with a bucket the others lack.
			for _, done := range p.sets[:i] {
				done.DeleteBucket(context.WithoutCancel(ctx), bucket, true)
			}
			return fmt.Errorf("creating bucket %s in set %d: %w", bucket, i, err)
		}
	}
	p.versioning.forget(bucket)
	p.publish(ctx, objstore.Event{Type: objstore.EventBucketCreated, Bucket: bucket})
	return nil
}

// GetBucketInfo returns a bucket's creation time, as the first set records it.
func (p *Pool) GetBucketInfo(ctx context.Context, bucket string) (objstore.BucketInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.BucketInfo{}, err
	}
	created, err := p.sets[0].BucketCreated(ctx, bucket)
	if err != nil {
		return objstore.BucketInfo{}, err
	}
	return objstore.BucketInfo{Name: bucket, Created: created}, nil
}

// ListBuckets returns every bucket, sorted by name.
func (p *Pool) ListBuckets(ctx context.Context) ([]objstore.BucketInfo, error) {
	names, err := p.sets[0].ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]objstore.BucketInfo, 0, len(names))
	for _, name := range names {
		created, err := p.sets[0].BucketCreated(ctx, name)
		if errors.Is(err, objstore.ErrBucketNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objstore.BucketInfo{Name: name, Created: created})
	}
	return out, nil
}

// lockExistingBucket takes the bucket's lock (which MakeBucket and DeleteBucket take) and
// checks, under it, that the bucket exists: ErrBucketNotFound, with the lock released. The
// context returned carries the grant's fencing.
func (p *Pool) lockExistingBucket(ctx context.Context, bucket string) (_ context.Context, unlock func(), err error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, nil, err
	}
	ctx, unlock, err = p.grant(ctx, []string{bucketLock(bucket)}, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.sets[0].BucketCreated(ctx, bucket); err != nil {
		unlock()
		return nil, nil, err
	}
	return ctx, unlock, nil
}

// DeleteBucket removes a bucket that holds no object in any set.
func (p *Pool) DeleteBucket(ctx context.Context, bucket string) error {
	// Pending puts are objects of the bucket: they land first, and make it not empty.
	if err := p.wb.waitPrefix(ctx, bucket, ""); err != nil {
		return err
	}
	ctx, unlock, err := p.lockExistingBucket(ctx, bucket)
	if err != nil {
		return err
	}
	defer unlock()
	for _, s := range p.sets {
		if err := s.CheckEmpty(ctx, bucket); err != nil {
			return err
		}
	}
	var errs []error
	for i, s := range p.sets {
		if err := s.DeleteBucket(ctx, bucket, true); err != nil {
			errs = append(errs, fmt.Errorf("set %d: %w", i, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if p.docs != nil {
		// The bucket is gone from the drives, which decide that it exists: documents
		// left behind are never served, and MakeBucket of the name removes them.
		if err := p.docs.DeleteDocs(ctx, bucket); err != nil {
			p.log.Warn("pool: bucket deleted, its configuration documents left behind", "bucket", bucket, "err", err)
		}
	}
	p.versioning.forget(bucket)
	p.publish(ctx, objstore.Event{Type: objstore.EventBucketDeleted, Bucket: bucket})
	return nil
}
