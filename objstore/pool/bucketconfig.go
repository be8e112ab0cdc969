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

// BucketDocs keeps the buckets' configuration documents outside the pool's drives: in a
// cluster, the store every node shares (objstore/cluster/etcdconfig.Buckets). Whether a
// bucket exists is still the drives' to say; the pool calls these only for a bucket that
// exists, under the bucket's lock.
type BucketDocs interface {
	// Docs returns the bucket's documents by name (an empty map when it has none).
	Docs(ctx context.Context, bucket string) (map[string]string, error)
	// SetDoc replaces the bucket's document name with doc, or removes it when doc is
	// empty, leaving the bucket's other documents as they are.
	SetDoc(ctx context.Context, bucket, name, doc string) error
	// DeleteDocs removes every document of the bucket.
	DeleteDocs(ctx context.Context, bucket string) error
}

// BucketConfig implements objstore.BucketConfigStore. The records live in the first
// erasure set (or in Config.BucketDocs), and the first set decides whether a bucket
// exists.
func (p *Pool) BucketConfig(ctx context.Context, bucket string) (map[string]string, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, err
	}
	if _, err := p.sets[0].BucketCreated(ctx, bucket); err != nil {
		return nil, err
	}
	if p.docs != nil {
		return p.docs.Docs(ctx, bucket)
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
// deleted. Whether it succeeds or not (a failed write may still have landed), it
// publishes EventBucketConfig, on which every cache of bucket settings drops the bucket.
func (p *Pool) SetBucketConfig(ctx context.Context, bucket, name, doc string) error {
	ctx, unlock, err := p.lockExistingBucket(ctx, bucket)
	if err != nil {
		return err
	}
	defer unlock()
	defer p.publish(ctx, objstore.Event{Type: objstore.EventBucketConfig, Bucket: bucket, Key: name})
	if p.docs != nil {
		defer p.versioning.forget(bucket)
		return p.docs.SetDoc(ctx, bucket, name, doc)
	}
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

// BucketConfigChanged tells the pool that bucket's documents changed elsewhere ("" : any
// bucket's): a cluster's watch of Config.BucketDocs calls it. It drops the pool's cached
// state and publishes EventBucketConfig for the other caches of the node.
func (p *Pool) BucketConfigChanged(bucket string) {
	p.versioning.forget(bucket)
	p.publish(context.Background(), objstore.Event{Type: objstore.EventBucketConfig, Bucket: bucket})
}

// clearBucketDocs removes what an earlier bucket of this name may have left of its
// documents.
func (p *Pool) clearBucketDocs(ctx context.Context, bucket string) error {
	if err := p.sets[0].RemoveBucketConfig(ctx, bucket); err != nil {
		return err
	}
	if p.docs != nil {
		return p.docs.DeleteDocs(ctx, bucket)
	}
	return nil
}
