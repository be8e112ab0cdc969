package pool

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
)

var _ objstore.BucketConfigStore = (*Pool)(nil)

// BucketConfig implements objstore.BucketConfigStore. The records live in the first
// erasure set, which also decides whether a bucket exists.
func (p *Pool) BucketConfig(ctx context.Context, bucket string) (map[string]string, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, err
	}
	if _, err := p.sets[0].BucketCreated(ctx, bucket); err != nil {
		return nil, err
	}
	c, err := p.sets[0].ReadBucketConfig(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("reading bucket %s config: %w", bucket, err)
	}
	if c.Docs == nil {
		return map[string]string{}, nil
	}
	return c.Docs, nil
}

// nextRecord returns the record that replaces old with docs, stamped now, or just after
// old: a clock stepped back must not make the new record lose to the old one.
func nextRecord(old *meta.BucketConfig, docs map[string]string) *meta.BucketConfig {
	c := &meta.BucketConfig{Docs: docs, Updated: time.Now().UTC()}
	if !c.Updated.After(old.Updated) {
		c.Updated = old.Updated.Add(time.Nanosecond)
	}
	return c
}

// SetBucketConfig implements objstore.BucketConfigStore. It holds the bucket's lock, which
// MakeBucket and DeleteBucket also take, so a record is never written for a bucket being
// deleted.
func (p *Pool) SetBucketConfig(ctx context.Context, bucket, name, doc string) error {
	ctx, unlock, err := p.lockExistingBucket(ctx, bucket)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := p.sets[0].ReadBucketConfig(ctx, bucket)
	if err != nil {
		return fmt.Errorf("reading bucket %s config: %w", bucket, err)
	}
	c := nextRecord(old, maps.Clone(old.Docs))
	if doc == "" {
		delete(c.Docs, name)
	} else {
		if c.Docs == nil {
			c.Docs = make(map[string]string, 1)
		}
		c.Docs[name] = doc
	}
	if err := p.sets[0].WriteBucketConfig(ctx, bucket, c); err != nil {
		p.versioning.forget(bucket) // the record may or may not hold the change
		return fmt.Errorf("writing bucket %s config %s: %w", bucket, name, err)
	}
	if name == objstore.BucketConfigVersioning {
		p.versioning.set(bucket, objstore.ParseVersioning(doc))
	}
	return nil
}
