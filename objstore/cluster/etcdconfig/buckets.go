package etcdconfig

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdwatch"
	"github.com/flashstor/flashstor/objstore/layout"
)

// bucketsPrefix is the root of the buckets' documents.
const bucketsPrefix = "/flashstor/v1/buckets/"

// Buckets keeps the buckets' configuration documents in etcd, one key per bucket and
// document name; it is what pool.Config.BucketDocs takes in a cluster.
type Buckets struct {
	c *clientv3.Client
	// Timeout bounds each read and write; DefaultTimeout when zero. Set before use.
	Timeout time.Duration
}

// NewBuckets returns the documents kept in c's etcd.
func NewBuckets(c *clientv3.Client) *Buckets {
	return &Buckets{c: c, Timeout: DefaultTimeout}
}

// configPrefix is the prefix of bucket's documents.
func configPrefix(bucket string) string { return bucketsPrefix + bucket + "/config/" }

// parseKey returns the bucket and document name of a key under bucketsPrefix, or an error
// that names the key.
func parseKey(key string) (bucket, name string, err error) {
	rest, ok := strings.CutPrefix(key, bucketsPrefix)
	if ok {
		bucket, name, ok = strings.Cut(rest, "/config/")
	}
	if !ok || name == "" || strings.Contains(name, "/") || layout.CheckBucketName(bucket) != nil {
		return "", "", fmt.Errorf("etcdconfig: %q: not a bucket document key", key)
	}
	return bucket, name, nil
}

// Docs returns bucket's documents by name (an empty map when it has none), read
// linearizably: ErrReadQuorum when etcd cannot answer, an error naming the key of a
// damaged value.
func (b *Buckets) Docs(ctx context.Context, bucket string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout(b.Timeout))
	defer cancel()
	prefix := configPrefix(bucket)
	resp, err := b.c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcdconfig: reading %s: %w: %w", prefix, objstore.ErrReadQuorum, err)
	}
	docs := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		kb, name, err := parseKey(key)
		if err != nil {
			return nil, err
		}
		if kb != bucket {
			return nil, fmt.Errorf("etcdconfig: %q: not a document of bucket %s", key, bucket)
		}
		if docs[name], err = decode(key, kv.Value); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// SetDoc replaces bucket's document name with doc, or removes it when doc is empty; the
// other documents are other keys, untouched.
func (b *Buckets) SetDoc(ctx context.Context, bucket, name, doc string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout(b.Timeout))
	defer cancel()
	key := configPrefix(bucket) + name
	var err error
	if doc == "" {
		_, err = b.c.Delete(ctx, key)
	} else {
		_, err = b.c.Put(ctx, key, string(encode(doc)))
	}
	if err != nil {
		return fmt.Errorf("etcdconfig: writing %s: %w: %w", key, objstore.ErrWriteQuorum, err)
	}
	return nil
}

// DeleteDocs removes every document of bucket, in one range delete.
func (b *Buckets) DeleteDocs(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout(b.Timeout))
	defer cancel()
	prefix := configPrefix(bucket)
	if _, err := b.c.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("etcdconfig: deleting %s: %w: %w", prefix, objstore.ErrWriteQuorum, err)
	}
	return nil
}

// Watch calls changed with the bucket of every document that changed, on any node, and
// with "" (every bucket) when the changes cannot be told one by one (see the package
// doc), until ctx ends: wire it to the pool's BucketConfigChanged. A key under the prefix
// that is not a document's is reported to cfg.OnError and taken as a change of every
// bucket.
func (b *Buckets) Watch(ctx context.Context, changed func(bucket string), cfg WatchConfig) {
	cfg.OnReset = func() { changed("") }
	cfg.OnKey = func(key string, _ int64) {
		bucket, _, err := parseKey(key)
		if err != nil && cfg.OnError != nil {
			cfg.OnError(err)
		}
		changed(bucket)
	}
	etcdwatch.Watch(ctx, b.c, bucketsPrefix, cfg, clientv3.WithPrefix())
}
