package pool

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/nslock"
)

// NewMultipartUpload starts an upload in the key's set.
func (p *Pool) NewMultipartUpload(ctx context.Context, bucket, key string, opts objstore.PutOptions) (string, error) {
	if err := checkBucketName(bucket); err != nil {
		return "", err
	}
	return p.setFor(key).NewMultipartUpload(ctx, bucket, key, opts)
}

// PutObjectPart stores a part. Its body is staged without any lock; the upload's read lock
// and the part's write lock are held only to move it into the upload, so that parts upload
// in parallel and completion and abort never wait for a client's transfer.
func (p *Pool) PutObjectPart(ctx context.Context, bucket, key, uploadID string, part int, r io.Reader, size int64, opts objstore.PartOptions) (objstore.PartInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.PartInfo{}, err
	}
	return p.setFor(key).PutObjectPart(ctx, bucket, key, uploadID, part, r, size, opts, func(ctx context.Context) (context.Context, nslock.Unlock, error) {
		return p.grant(ctx,
			[]string{erasureset.PartLockName(bucket, key, uploadID, part)},
			[]string{bucketLock(bucket), erasureset.UploadLockName(bucket, key, uploadID)})
	})
}

// ListObjectParts lists an upload's parts.
func (p *Pool) ListObjectParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (objstore.ListPartsResult, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ListPartsResult{}, err
	}
	ctx, unlock, err := p.grant(ctx, nil, []string{bucketLock(bucket), erasureset.UploadLockName(bucket, key, uploadID)})
	if err != nil {
		return objstore.ListPartsResult{}, err
	}
	defer unlock()
	return p.setFor(key).ListObjectParts(ctx, bucket, key, uploadID, marker, maxParts)
}

// CompleteMultipartUpload assembles an upload under the upload's write lock; the key's
// write lock is taken after it (always in that order), for the commit alone.
func (p *Pool) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []objstore.CompletePart, opts objstore.CompleteOptions) (objstore.ObjectInfo, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	ctx, unlock, err := p.grant(ctx,
		[]string{erasureset.UploadLockName(bucket, key, uploadID)},
		[]string{bucketLock(bucket)})
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer unlock()
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	opts.Versioning = mode
	// The bucket's read lock, taken above, covers the commit too.
	info, err := p.setFor(key).CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts, func(ctx context.Context) (context.Context, nslock.Unlock, error) {
		return p.grant(ctx, []string{erasureset.LockName(bucket, key)}, nil)
	})
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventPut, Bucket: bucket, Key: key, Info: info})
	return info, nil
}

// AbortMultipartUpload discards an upload under its write lock.
func (p *Pool) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	ctx, unlock, err := p.grant(ctx,
		[]string{erasureset.UploadLockName(bucket, key, uploadID)},
		[]string{bucketLock(bucket)})
	if err != nil {
		return err
	}
	defer unlock()
	return p.setFor(key).AbortMultipartUpload(ctx, bucket, key, uploadID)
}

// ListMultipartUploads lists uploads in progress across every set, sorted by key and then
// initiation, with S3's prefix, delimiter and marker rules.
func (p *Pool) ListMultipartUploads(ctx context.Context, bucket string, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	if _, err := p.GetBucketInfo(ctx, bucket); err != nil {
		return objstore.ListUploadsResult{}, err
	}
	var all []objstore.UploadInfo
	for _, s := range p.sets {
		ups, err := s.ListMultipartUploads(ctx, bucket)
		if err != nil {
			return objstore.ListUploadsResult{}, err
		}
		all = append(all, ups...)
	}
	slices.SortFunc(all, func(a, b objstore.UploadInfo) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if c := a.Initiated.Compare(b.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.UploadID, b.UploadID)
	})
	max := opts.MaxUploads
	if max <= 0 {
		max = DefaultMaxKeys
	}
	var res objstore.ListUploadsResult
	// Uploads of one key are ordered by initiation, not by id: the id marker is a position
	// in that order, found by looking for it (or, if that upload is gone, by comparing ids).
	markerFound := false
	for _, u := range all {
		if u.Key == opts.KeyMarker && u.UploadID == opts.UploadIDMarker {
			markerFound = true
		}
	}
	passed := false
	pastMarker := func(u objstore.UploadInfo) bool {
		switch {
		case opts.KeyMarker == "" || u.Key > opts.KeyMarker:
			return true
		case u.Key < opts.KeyMarker || opts.UploadIDMarker == "":
			return false
		case markerFound:
			was := passed
			passed = passed || u.UploadID == opts.UploadIDMarker
			return was
		default:
			return u.UploadID > opts.UploadIDMarker
		}
	}
	lastPrefix := ""
	for _, u := range all {
		if !strings.HasPrefix(u.Key, opts.Prefix) || !pastMarker(u) {
			continue
		}
		if opts.Delimiter != "" {
			if i := strings.Index(u.Key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				prefix := u.Key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if prefix == lastPrefix {
					continue
				}
				if len(res.Uploads)+len(res.Prefixes) == max {
					res.IsTruncated = true
					break
				}
				res.Prefixes = append(res.Prefixes, prefix)
				lastPrefix = prefix
				res.NextKeyMarker, res.NextUploadIDMarker = prefix, ""
				continue
			}
		}
		if len(res.Uploads)+len(res.Prefixes) == max {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
	}
	return res, nil
}
