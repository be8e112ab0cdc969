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

// register puts this node's membership key under a lease it keeps alive until Close.
func (n *Node) register(ctx context.Context) error {
	if n.lease != 0 {
		return nil
	}
	lease, err := n.client.Grant(ctx, memberTTL)
	if err != nil {
		return fmt.Errorf("membership lease: %w", err)
	}
	b, _ := json.Marshal(Member{Node: n.cfg.Self, Version: n.cfg.Version, ArgsHash: n.top.Hash, Drives: len(n.localIdx), Started: time.Now().UnixMilli()})
	if _, err := n.client.Put(ctx, MemberPrefix+n.cfg.Self, string(b), clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("registering: %w", err)
	}
	// The keep-alive runs on the client's context: it ends with Close.
	go func() {
		ctx := n.client.Ctx()
		if err := leasekeep.Keep(ctx, n.client, lease.ID, memberTTL*time.Second, nil, n.log); ctx.Err() == nil {
			n.log.Warn("this node's membership key is gone with its lease: other nodes no longer list it", "err", err)
		}
	}()
	n.lease = lease.ID
	return nil
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
