package s3frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// LifecycleConfig configures a LifecycleScanner.
type LifecycleConfig struct {
	// Layer is the object layer to scan; it must keep bucket configurations
	// (objstore.BucketConfigStore). Required.
	Layer objstore.ObjectLayer
	// Day is the length of a lifecycle day: 24h when 0. Tests shorten it.
	Day time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxActions bounds the objects expired plus uploads aborted in one pass (1000 when 0);
	// MaxScanned the objects and uploads looked at in one pass (100,000 when 0). A pass
	// that reaches either stops; the next goes on.
	MaxActions, MaxScanned int
	// Pause is the wait after each listing page, to leave the drives to the clients (10 ms
	// when 0; negative: none).
	Pause time.Duration
	Log   *slog.Logger
}

// LifecycleScanner applies the buckets' lifecycle rules in bounded passes: it expires the
// current objects an enabled rule's Expiration (Days or Date) has reached (in a versioned
// bucket: a delete marker), the noncurrent versions its NoncurrentVersionExpiration has,
// the lone delete markers of ExpiredObjectDeleteMarker, and aborts the multipart uploads
// an AbortIncompleteMultipartUpload has. A locked version is left.
type LifecycleScanner struct {
	cfg     LifecycleConfig
	configs objstore.BucketConfigStore
}

// NewLifecycleScanner returns a scanner for cfg.
func NewLifecycleScanner(cfg LifecycleConfig) (*LifecycleScanner, error) {
	configs, ok := cfg.Layer.(objstore.BucketConfigStore)
	if !ok {
		return nil, errors.New("s3frontend: the object layer keeps no bucket configuration, so no lifecycle")
	}
	if cfg.Day <= 0 {
		cfg.Day = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxActions <= 0 {
		cfg.MaxActions = 1000
	}
	if cfg.MaxScanned <= 0 {
		cfg.MaxScanned = 100000
	}
	if cfg.Pause == 0 {
		cfg.Pause = 10 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &LifecycleScanner{cfg: cfg, configs: configs}, nil
}

// Run scans every interval (and once at once) until ctx ends.
func (s *LifecycleScanner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		expired, aborted, err := s.Scan(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Log.Warn("lifecycle pass failed", "err", err)
		case expired+aborted > 0:
			s.cfg.Log.Info("lifecycle pass", "expired", expired, "aborted", aborted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass is the budget of one Scan.
type pass struct {
	actions, scanned int
	expired, aborted int
}

func (p *pass) spent(cfg *LifecycleConfig) bool {
	return p.actions >= cfg.MaxActions || p.scanned >= cfg.MaxScanned
}

// Scan makes one pass over every bucket with a lifecycle configuration and returns how
// many objects it expired and uploads it aborted. A bucket whose configuration does not
// parse is skipped (and logged); an error of the layer ends the pass.
func (s *LifecycleScanner) Scan(ctx context.Context) (expired, aborted int, err error) {
	buckets, err := s.cfg.Layer.ListBuckets(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("lifecycle: listing buckets: %w", err)
	}
	var p pass
	for _, b := range buckets {
		if p.spent(&s.cfg) {
			break
		}
		cfg, err := s.configs.BucketConfig(ctx, b.Name)
		if errors.Is(err, objstore.ErrBucketNotFound) {
			continue
		}
		if err != nil {
			return p.expired, p.aborted, fmt.Errorf("lifecycle: bucket %s: %w", b.Name, err)
		}
		doc := cfg[objstore.BucketConfigLifecycle]
		if doc == "" {
			continue
		}
		rules, err := s3xml.ParseLifecycle([]byte(doc))
		if err != nil {
			s.cfg.Log.Warn("lifecycle: stored configuration does not parse", "bucket", b.Name, "err", err)
			continue
		}
		for i := range rules {
			r := &rules[i]
			if !r.Enabled {
				continue
			}
			if err := s.expire(ctx, b.Name, r, &p); err != nil {
				return p.expired, p.aborted, err
			}
			if err := s.expireVersions(ctx, b.Name, r, &p); err != nil {
				return p.expired, p.aborted, err
			}
			if err := s.abortUploads(ctx, b.Name, r, &p); err != nil {
				return p.expired, p.aborted, err
			}
		}
	}
	return p.expired, p.aborted, nil
}

// expiry returns when an object modified at mod expires by r, and whether r expires it at
// all (expiryTime with the scanner's day).
func (s *LifecycleScanner) expiry(r *s3xml.LifecycleRule, mod time.Time) (time.Time, bool) {
	return expiryTime(r, mod, s.cfg.Day)
}

// matches reports whether an object falls under r's filter.
func matches(r *s3xml.LifecycleRule, o *objstore.ObjectInfo) bool {
	if !strings.HasPrefix(o.Key, r.Prefix) || r.SizeGreaterThan > 0 && o.Size <= r.SizeGreaterThan ||
		r.SizeLessThan > 0 && o.Size >= r.SizeLessThan {
		return false
	}
	if len(r.Tags) == 0 {
		return true
	}
	tags, err := decodeTags(o.Metadata[mdTagging])
	if err != nil {
		return false
	}
	for _, want := range r.Tags {
		found := false
		for _, t := range tags {
			found = found || t == want
		}
		if !found {
			return false
		}
	}
	return true
}

// expire deletes the objects r's Expiration has reached, page by page.
func (s *LifecycleScanner) expire(ctx context.Context, bucket string, r *s3xml.LifecycleRule, p *pass) error {
	if _, ok := s.expiry(r, time.Time{}); !ok {
		return nil
	}
	marker := ""
	for !p.spent(&s.cfg) {
		page, err := s.cfg.Layer.ListObjects(ctx, bucket, objstore.ListOptions{Prefix: r.Prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return fmt.Errorf("lifecycle: listing %s: %w", bucket, err)
		}
		now := s.cfg.Now()
		for i := range page.Objects {
			o := &page.Objects[i]
			p.scanned++
			if at, _ := s.expiry(r, o.ModTime); now.Before(at) || !matches(r, o) {
				continue
			}
			err := s.cfg.Layer.DeleteObject(ctx, bucket, o.Key)
			if errors.Is(err, objstore.ErrObjectLocked) {
				continue // a locked version outlives its rule (S3 leaves it too)
			}
			if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
				return fmt.Errorf("lifecycle: expiring %s/%s: %w", bucket, o.Key, err)
			}
			p.actions++
			p.expired++
			if p.spent(&s.cfg) {
				return nil
			}
		}
		if !page.IsTruncated {
			return nil
		}
		marker = page.NextMarker
		if err := s.pause(ctx); err != nil {
			return err
		}
	}
	return nil
}

// abortUploads aborts the uploads older than r's AbortIncompleteMultipartUpload.
func (s *LifecycleScanner) abortUploads(ctx context.Context, bucket string, r *s3xml.LifecycleRule, p *pass) error {
	if r.AbortMultipartDays == 0 {
		return nil
	}
	age := time.Duration(r.AbortMultipartDays) * s.cfg.Day
	opts := objstore.ListUploadsOptions{Prefix: r.Prefix, MaxUploads: 1000}
	for !p.spent(&s.cfg) {
		page, err := s.cfg.Layer.ListMultipartUploads(ctx, bucket, opts)
		if err != nil {
			return fmt.Errorf("lifecycle: listing uploads of %s: %w", bucket, err)
		}
		now := s.cfg.Now()
		for _, u := range page.Uploads {
			p.scanned++
			if now.Sub(u.Initiated) < age {
				continue
			}
			err := s.cfg.Layer.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID)
			if err != nil && !errors.Is(err, objstore.ErrNoSuchUpload) {
				return fmt.Errorf("lifecycle: aborting upload %s of %s/%s: %w", u.UploadID, bucket, u.Key, err)
			}
			p.actions++
			p.aborted++
			if p.spent(&s.cfg) {
				return nil
			}
		}
		if !page.IsTruncated {
			return nil
		}
		opts.KeyMarker, opts.UploadIDMarker = page.NextKeyMarker, page.NextUploadIDMarker
		if err := s.pause(ctx); err != nil {
			return err
		}
	}
	return nil
}

// pause waits between two listing pages.
func (s *LifecycleScanner) pause(ctx context.Context) error {
	if s.cfg.Pause < 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.cfg.Pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
