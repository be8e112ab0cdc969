package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster/leasekeep"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MemberPrefix is the prefix of the nodes' membership keys: MemberPrefix + "host:port"
// holds a Member (JSON) under the node's lease, so it vanishes when the node stops
// renewing it.
const MemberPrefix = "/flashstor/v1/nodes/"

// memberTTL is the membership lease's time to live, in seconds.
const memberTTL = 10

// Member is what a node registers about itself.
type Member struct {
	Node     string `json:"node"`
	Version  string `json:"version"`
	ArgsHash string `json:"argsHash"`
	Drives   int    `json:"drives"`
	Started  int64  `json:"started"` // Unix ms
}

// register puts this node's membership key under a lease it keeps alive until Close,
// registering again whenever the lease is lost (etcd unreachable for a whole TTL).
func (n *Node) register(ctx context.Context) error {
	if n.lease.Load() != 0 {
		return nil
	}
	lease, err := n.putMember(ctx)
	if err != nil {
		return err
	}
	n.lease.Store(int64(lease))
	// The keep-alive runs on the client's context: it ends with Close.
	go leasekeep.KeepRegistered(n.client.Ctx(), n.client, lease, memberTTL*time.Second, n.putMember,
		func(l clientv3.LeaseID) { n.lease.Store(int64(l)) }, "this node's membership key", n.log)
	return nil
}

// putMember puts this node's membership key under a new lease.
func (n *Node) putMember(ctx context.Context) (clientv3.LeaseID, error) {
	lease, err := n.client.Grant(ctx, memberTTL)
	if err != nil {
		return 0, fmt.Errorf("membership lease: %w", err)
	}
	b, _ := json.Marshal(Member{Node: n.cfg.Self, Version: n.cfg.Version, ArgsHash: n.top.Hash, Drives: len(n.localIdx), Started: time.Now().UnixMilli()})
	if _, err := n.client.Put(ctx, MemberPrefix+n.cfg.Self, string(b), clientv3.WithLease(lease.ID)); err != nil {
		return 0, fmt.Errorf("registering: %w", err)
	}
	return lease.ID, nil
}

// Members returns the nodes registered now.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	resp, err := n.client.Get(ctx, MemberPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Member
		if json.Unmarshal(kv.Value, &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
