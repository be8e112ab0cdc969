package s3frontend

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// keyVersions is what expireVersions knows of the key whose versions it is reading, which
// a page of versions may cut in two.
type keyVersions struct {
	key string
	// seen counts the key's versions so far (0 is the latest).
	seen int
	// newerMod is the modification time of the version before the current one: when the
	// current one became noncurrent.
	newerMod objstore.ObjectInfo
	// marker is the key's latest version when it is a delete marker.
	marker *objstore.ObjectInfo
}

// expireVersions applies r's NoncurrentVersionExpiration (a noncurrent version expires
// NoncurrentDays after it became noncurrent, keeping the NewerNoncurrentVersions newest
// of them) and ExpiredObjectDeleteMarker (a delete marker that is its key's only version
// is removed), page by page through ListObjectVersions.
func (s *LifecycleScanner) expireVersions(ctx context.Context, bucket string, r *s3xml.LifecycleRule, p *pass) error {
	versions, ok := s.cfg.Layer.(objstore.VersionedLayer)
	if !ok || r.NoncurrentDays == 0 && !r.ExpiredObjectDeleteMarker {
		return nil
	}
	remove := func(v *objstore.ObjectInfo) error {
		_, err := versions.DeleteVersion(ctx, bucket, v.Key, objstore.DeleteOptions{VersionID: v.Version.VersionID})
		switch {
		case errors.Is(err, objstore.ErrObjectLocked), errors.Is(err, objstore.ErrNoSuchVersion):
			return nil // locked: it outlives its rule; gone: someone was first
		case err != nil:
			return fmt.Errorf("lifecycle: expiring %s/%s version %s: %w", bucket, v.Key, v.Version.VersionID, err)
		}
		p.actions++
		p.expired++
		return nil
	}
	var cur keyVersions
	// endKey acts on the key just read to its end: a lone delete marker goes.
	endKey := func() error {
		if r.ExpiredObjectDeleteMarker && cur.marker != nil && cur.seen == 1 {
			return remove(cur.marker)
		}
		return nil
	}
	opts := objstore.ListVersionsOptions{Prefix: r.Prefix, MaxKeys: 1000}
	for !p.spent(&s.cfg) {
		page, err := versions.ListObjectVersions(ctx, bucket, opts)
		if err != nil {
			return fmt.Errorf("lifecycle: listing versions of %s: %w", bucket, err)
		}
		now := s.cfg.Now()
		for i := range page.Versions {
			v := &page.Versions[i]
			p.scanned++
			if v.Key != cur.key {
				if err := endKey(); err != nil {
					return err
				}
				cur = keyVersions{key: v.Key}
			}
			cur.seen++
			if v.Version.IsLatest {
				if v.Version.DeleteMarker {
					cur.marker = v
				}
				cur.newerMod = *v
				continue
			}
			since := cur.newerMod.ModTime
			cur.newerMod = *v
			if r.NoncurrentDays == 0 || cur.seen-1 <= r.NewerNoncurrentVersions ||
				now.Before(daysAfter(since, r.NoncurrentDays, s.cfg.Day)) || !v.Version.DeleteMarker && !matches(r, v) {
				continue
			}
			if err := remove(v); err != nil {
				return err
			}
			if p.spent(&s.cfg) {
				return nil
			}
		}
		if !page.IsTruncated {
			return endKey()
		}
		opts.KeyMarker, opts.VersionIDMarker = page.NextKeyMarker, page.NextVersionIDMarker
		if err := s.pause(ctx); err != nil {
			return err
		}
	}
	return nil
}
