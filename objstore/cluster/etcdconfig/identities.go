package etcdconfig

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/objstore"
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

// Identities is the identity.Store of a cluster: the sealed document at
// /flashstor/v1/iam/<name>, its revision the key's mod revision.
type Identities struct {
	c   *clientv3.Client
	key string
	// Timeout bounds each load and save; DefaultTimeout when zero. Set before use.
	Timeout time.Duration
	// seen is the mod revision this process last loaded or saved: Watch does not report
	// it back as another node's change.
	seen atomic.Int64
}

var _ identity.Store = (*Identities)(nil)

// NewIdentities returns the store of document name in c's etcd.
func NewIdentities(c *clientv3.Client, name string) *Identities {
	return &Identities{c: c, key: "/flashstor/v1/iam/" + name, Timeout: DefaultTimeout}
}

// Load implements identity.Store with a linearizable read.
func (s *Identities) Load(ctx context.Context) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout(s.Timeout))
	defer cancel()
	resp, err := s.c.Get(ctx, s.key)
	if err != nil {
		return nil, 0, fmt.Errorf("identity: loading %s: %w: %w", s.key, objstore.ErrReadQuorum, err)
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

// Save implements identity.Store: a transaction puts doc only while the key's mod
// revision is still rev (0: the key does not exist).
func (s *Identities) Save(ctx context.Context, doc []byte, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout(s.Timeout))
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.key), "=", int64(rev))).
		Then(clientv3.OpPut(s.key, string(encode(string(doc))))).
		Commit()
	if err != nil {
		// Unknown whether it applied: the Manager keeps its old revision, so a retry
		// after an applied put fails with ErrRevision rather than overwrite.
		return 0, fmt.Errorf("identity: saving %s: %w: %w", s.key, objstore.ErrWriteQuorum, err)
	}
	if !resp.Succeeded {
		return 0, identity.ErrRevision
	}
	s.seen.Store(resp.Header.Revision)
	return uint64(resp.Header.Revision), nil
}

// Watch calls reload whenever another writer changed the document, and whenever the
// watch (re)starts, until ctx ends: wire it to identity.Manager.Reload, so that a change
// made on another node reaches this node's Manager and decision cache at once.
func (s *Identities) Watch(ctx context.Context, reload func(), cfg WatchConfig) {
	cfg.OnReset = reload
	cfg.OnKey = func(_ string, rev int64) {
		if rev != s.seen.Load() {
			reload()
		}
	}
	watch(ctx, s.c, s.key, cfg)
}
