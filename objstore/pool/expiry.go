package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// ExpireUploadsOptions describe one pass of ExpireUploads.
type ExpireUploadsOptions struct {
	// Before: uploads initiated before it are removed.
	Before time.Time
	// Limit is the most uploads the pass tries to remove (at least 1): it removes fewer
	// when completions or aborts come first.
	Limit int
	// Pause is the wait between two removals: with Limit, it bounds the pass's deletes.
	Pause time.Duration
}

// ExpireUploads removes the incomplete multipart uploads initiated before opts.Before, with
// their parts, from every drive, whatever bucket (even a deleted one) they were started in.
// Each is removed under its upload's write lock, as AbortMultipartUpload removes one: a
// completion or a part upload in flight finishes first (a completed upload is then gone and
// not counted), and one that comes later answers ErrNoSuchUpload. It returns how many
// uploads it removed, at most opts.Limit; on an error it goes on with the other sets and
// buckets and returns them all joined.
func (p *Pool) ExpireUploads(ctx context.Context, opts ExpireUploadsOptions) (int, error) {
	if opts.Limit < 1 {
		return 0, fmt.Errorf("%w: expiry limit %d", objstore.ErrInvalidArgument, opts.Limit)
	}
	removed, tried := 0, 0
	var errs []error
	for si, s := range p.sets {
		buckets, err := s.UploadBuckets(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("set %d: %w", si, err))
			continue
		}
		for _, b := range buckets {
			if tried >= opts.Limit {
				return removed, errors.Join(errs...)
			}
			stale, err := s.StaleUploads(ctx, b, opts.Before, opts.Limit-tried)
			if err != nil {
				errs = append(errs, fmt.Errorf("set %d, bucket %s: %w", si, b, err))
			}
			for _, u := range stale {
				if tried > 0 && pause(ctx, opts.Pause) != nil {
					return removed, errors.Join(append(errs, ctxErr(ctx))...)
				}
				tried++
				ok, err := p.expireUpload(ctx, s, b, u)
				if err != nil {
					errs = append(errs, fmt.Errorf("set %d, upload %s of %s/%s: %w", si, u.UploadID, b, u.Key, err))
				}
				if ok {
					removed++
				}
			}
		}
	}
	return removed, errors.Join(errs...)
}

// expireUpload removes one upload of set s under its write lock and the bucket's read lock,
// the locks of AbortMultipartUpload.
func (p *Pool) expireUpload(ctx context.Context, s *erasureset.Set, bucket string, u objstore.UploadInfo) (bool, error) {
	ctx, unlock, err := p.grant(ctx,
		[]string{erasureset.UploadLockName(bucket, u.Key, u.UploadID)},
		[]string{bucketLock(bucket)})
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.RemoveUpload(ctx, bucket, u.Key, u.UploadID)
}

// pause waits d, or until ctx is done (then it returns ctx's error).
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctxErr(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-t.C:
		return nil
	}
}

func ctxErr(ctx context.Context) error { return context.Cause(ctx) }
