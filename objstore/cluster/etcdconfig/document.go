package etcdconfig

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdwatch"
)

// DefaultTimeout bounds each read or write when the caller's context has no earlier
// deadline: an unreachable etcd answers 503, not a hang.
const DefaultTimeout = 5 * time.Second

// timeout returns d, or DefaultTimeout when d is not positive.
func timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// ErrRevision: the document changed since the revision the update was made from.
var ErrRevision = errors.New("etcdconfig: the stored document has a newer revision")

// Document is one document at one key, changed by compare-and-swap: the shape of
// identity.Store (iam/identity/etcdstore adapts it; the identities live at
// /flashstor/v1/iam/<name>). Its revision is the key's mod revision, 0 when it was never
// saved. The document is stored as given: the identities' arrive sealed.
type Document struct {
	c   *clientv3.Client
	key string
	// Timeout bounds each load and save; DefaultTimeout when zero. Set before use.
	Timeout time.Duration
	// seen is the mod revision this process last loaded or saved: Watch does not report
	// it back as another node's change.
	seen atomic.Int64
}

// NewDocument returns the document at key in c's etcd.
func NewDocument(c *clientv3.Client, key string) *Document {
	return &Document{c: c, key: key, Timeout: DefaultTimeout}
}

// Load returns the document and its revision (nil and 0 when never saved), read
// linearizably: ErrReadQuorum when etcd cannot answer, an error naming the key of a
// damaged value.
func (s *Document) Load(ctx context.Context) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout(s.Timeout))
	defer cancel()
	resp, err := s.c.Get(ctx, s.key)
	if err != nil {
		return nil, 0, fmt.Errorf("etcdconfig: loading %s: %w: %w", s.key, objstore.ErrReadQuorum, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	kv := resp.Kvs[0]
	doc, err := decode(s.key, kv.Value)
	if err != nil {
		return nil, 0, err
	}
	s.seen.Store(kv.ModRevision)
	return []byte(doc), uint64(kv.ModRevision), nil
}

// Save replaces the document if its revision is still rev (a transaction on the key's
// mod revision; 0: the key does not exist) and returns the new revision: ErrRevision when
// another writer got there first, ErrWriteQuorum when etcd cannot answer.
func (s *Document) Save(ctx context.Context, doc []byte, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout(s.Timeout))
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.key), "=", int64(rev))).
		Then(clientv3.OpPut(s.key, string(encode(string(doc))))).
		Commit()
	if err != nil {
		// Unknown whether it applied: the writer keeps its old revision, so a retry after
		// an applied put fails with ErrRevision rather than overwrite.
		return 0, fmt.Errorf("etcdconfig: saving %s: %w: %w", s.key, objstore.ErrWriteQuorum, err)
	}
	if !resp.Succeeded {
		return 0, ErrRevision
	}
	s.seen.Store(resp.Header.Revision)
	return uint64(resp.Header.Revision), nil
}

// Watch calls reload whenever another writer changed the document, and whenever the
// watch (re)starts or breaks, until ctx ends: for the identities, identity.Manager.Reload,
// so that a change made on another node reaches this node's Manager and decision cache
// at once.
func (s *Document) Watch(ctx context.Context, reload func(), cfg WatchConfig) {
	cfg.OnReset = reload
	cfg.OnKey = func(_ string, rev int64) {
		if rev != s.seen.Load() {
			reload()
		}
	}
	etcdwatch.Watch(ctx, s.c, s.key, cfg)
}
