// Package etcdstore is the identity.Store of a cluster: the identities' sealed document
// in etcd, at /flashstor/v1/iam/<name>, through objstore/cluster/etcdconfig.Document
// (which see for revisions, timeouts and the watch). It only translates that package's
// revision error into identity's, so that the coordination layer does not import IAM.
package etcdstore

import (
	"context"
	"errors"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
)

// Store keeps the identities' document in etcd.
type Store struct {
	// Doc is the document; its Watch tells the Manager to reload (Manager.Reload) when
	// another node saved.
	Doc *etcdconfig.Document
}

var _ identity.Store = (*Store)(nil)

// New returns the store of document name in c's etcd.
func New(c *clientv3.Client, name string) *Store {
	return &Store{Doc: etcdconfig.NewDocument(c, "/flashstor/v1/iam/"+name)}
}

// Load implements identity.Store.
func (s *Store) Load(ctx context.Context) ([]byte, uint64, error) { return s.Doc.Load(ctx) }

// Save implements identity.Store.
func (s *Store) Save(ctx context.Context, doc []byte, rev uint64) (uint64, error) {
	r, err := s.Doc.Save(ctx, doc, rev)
	if errors.Is(err, etcdconfig.ErrRevision) {
		return 0, identity.ErrRevision
	}
	return r, err
}
