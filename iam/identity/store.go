package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/flashstor/flashstor/objstore"
)

// Store keeps the identities' document durably. The Manager is its only writer on a node;
// the revision lets a shared store (a cluster's) refuse an update made from a stale read.
type Store interface {
	// Load returns the document last saved and its revision; a nil document and revision
	// 0 when nothing was ever saved.
	Load(ctx context.Context) (doc []byte, rev uint64, err error)
	// Save replaces the document if the stored revision is still rev, and returns the new
	// revision once the document is durable. ErrRevision when another writer got there
	// first.
	Save(ctx context.Context, doc []byte, rev uint64) (uint64, error)
}

// ErrRevision: the document changed since the revision the update was made from.
var ErrRevision = errors.New("identity: the stored document has a newer revision")

// Memory is a Store in memory, for tests and for a server without a system area.
type Memory struct {
	mu  sync.Mutex
	doc []byte // GUARDED_BY(mu)
	rev uint64 // GUARDED_BY(mu)
}

var _ Store = (*Memory)(nil)

// Load implements Store.
func (m *Memory) Load(context.Context) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.doc, m.rev, nil
}

// Save implements Store.
func (m *Memory) Save(_ context.Context, doc []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev != m.rev {
		return 0, ErrRevision
	}
	m.doc, m.rev = append([]byte(nil), doc...), m.rev+1
	return m.rev, nil
}

// ObjectStore is the Store of one node: the document lives in the object layer's system
// area (objstore.SystemConfigStore), written to every drive of the first erasure set and
// acknowledged on a write quorum, read back as the newest copy a read quorum agrees on:
// the same durability and quorum as the buckets' configuration. Its revision is compared
// under a lock of this process, which is the document's only writer on one node.
type ObjectStore struct {
	layer objstore.SystemConfigStore
	name  string
	mu    sync.Mutex // serialises Save's read-compare-write
}

var _ Store = (*ObjectStore)(nil)

// NewObjectStore returns the Store of document name in layer's system area.
func NewObjectStore(layer objstore.SystemConfigStore, name string) *ObjectStore {
	return &ObjectStore{layer: layer, name: name}
}

// The two entries of the system record: the document and its revision.
const (
	recDoc = "doc"
	recRev = "rev"
)

// Load implements Store.
func (o *ObjectStore) Load(ctx context.Context) ([]byte, uint64, error) {
	rec, err := o.layer.SystemConfig(ctx, o.name)
	if err != nil {
		return nil, 0, fmt.Errorf("identity: loading %s: %w", o.name, err)
	}
	if rec[recDoc] == "" {
		return nil, 0, nil
	}
	rev, err := strconv.ParseUint(rec[recRev], 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("identity: %s has a corrupt revision", o.name)
	}
	return []byte(rec[recDoc]), rev, nil
}

// Save implements Store.
func (o *ObjectStore) Save(ctx context.Context, doc []byte, rev uint64) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, cur, err := o.Load(ctx)
	if err != nil {
		return 0, err
	}
	if cur != rev {
		return 0, ErrRevision
	}
	rec := map[string]string{recDoc: string(doc), recRev: strconv.FormatUint(rev+1, 10)}
	if err := o.layer.SetSystemConfig(ctx, o.name, rec); err != nil {
		return 0, fmt.Errorf("identity: saving %s: %w", o.name, err)
	}
	return rev + 1, nil
}
