package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// FormatKey is the etcd key of the deployment's agreed format (Agreement, JSON).
const FormatKey = "/flashstor/v1/format"

// Agreement is the deployment's identity and layout, written once in etcd by the first
// node that gets there (create-if-absent) and checked by every node against its list and
// its drives.
type Agreement struct {
	// Version of this record: 1.
	Version      int    `json:"version"`
	DeploymentID string `json:"deploymentID"`
	PlacementKey string `json:"placementKey"`
	// ArgsHash is topology.Topology.Hash of the list the deployment was created with, Args
	// that expanded list (for telling an operator what differs).
	ArgsHash string   `json:"argsHash"`
	Args     []string `json:"args"`
	Parity   int      `json:"parity"`
	// Sets[s][i] is the drive id of position i of set s; Positions[s][i] the index in
	// Args of the drive there.
	Sets      [][]string `json:"sets"`
	Positions [][]int    `json:"positions"`
}

// format returns the drive format record of position (s, i).
func (a *Agreement) format(s, i int) format.Format {
	return format.Format{DeploymentID: a.DeploymentID, PlacementKey: a.PlacementKey, DriveID: a.Sets[s][i], Sets: a.Sets}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// propose returns the agreement this node would write: a new deployment over the list.
// It refuses when one of its drives already holds a deployment's record: etcd then lost
// the cluster's format (or is not the cluster's etcd), and a new deployment would disown
// that drive's data.
func (n *Node) propose(ctx context.Context) (*Agreement, error) {
	for _, e := range n.localIdx {
		b, err := n.local[e].ReadFormat(ctx)
		if err != nil {
			continue
		}
		if f, err := format.Parse(b); err == nil {
			return nil, &permanent{fmt.Errorf("etcd holds no cluster format (%s), but drive %s belongs to deployment %s: refusing to create a new deployment over it (is this the cluster's etcd? was its data lost?)",
				FormatKey, n.local[e], f.DeploymentID)}
		}
	}
	a := &Agreement{Version: 1, ArgsHash: n.top.Hash, Parity: n.place.Parity, Positions: n.place.Sets,
		DeploymentID: newID(), PlacementKey: newID()}
	for _, e := range n.top.Endpoints {
		a.Args = append(a.Args, e.URL(n.top.Scheme))
	}
	for _, set := range n.place.Sets {
		ids := make([]string, len(set))
		for i := range ids {
			ids[i] = newID()
		}
		a.Sets = append(a.Sets, ids)
	}
	return a, nil
}

// agree returns the agreement etcd holds, writing this node's proposal first if there is
// none (create-if-absent: of nodes proposing at once, one wins and all read its). It
// refuses an agreement made for another argument list.
func (n *Node) agree(ctx context.Context, c *clientv3.Client) (*Agreement, error) {
	got, err := c.Get(ctx, FormatKey)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster format from etcd: %w", err)
	}
	var raw []byte
	if len(got.Kvs) == 1 {
		raw = got.Kvs[0].Value
	} else if a, err := n.propose(ctx); err != nil {
		// Another node may have written the format, and formatted this node's drives
		// through their remote handles, between the read above and propose: then the
		// refusal is wrong, and the format is there to take.
		again, gerr := c.Get(ctx, FormatKey)
		if gerr != nil || len(again.Kvs) != 1 {
			return nil, err
		}
		raw = again.Kvs[0].Value
	} else {
		prop, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		resp, err := c.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(FormatKey), "=", 0)).
			Then(clientv3.OpPut(FormatKey, string(prop))).
			Else(clientv3.OpGet(FormatKey)).Commit()
		if err != nil {
			return nil, fmt.Errorf("agreeing on the format in etcd: %w", err)
		}
		raw = prop
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().Kvs
			if len(kvs) != 1 {
				return nil, errors.New("agreeing on the format in etcd: the key vanished")
			}
			raw = kvs[0].Value
		} else {
			n.log.Info("cluster format written to etcd", "key", FormatKey, "deployment", a.DeploymentID)
		}
	}
	var a Agreement
	if err := json.Unmarshal(raw, &a); err != nil || a.Version != 1 {
		return nil, &permanent{fmt.Errorf("the cluster format in etcd (%s) cannot be read (version %d): %v", FormatKey, a.Version, err)}
	}
	if a.ArgsHash != n.top.Hash {
		return nil, &permanent{fmt.Errorf("this node's argument list differs from the one deployment %s was created with: %s", a.DeploymentID, n.diffArgs(a.Args))}
	}
	return &a, nil
}

// diffArgs says how this node's expanded list differs from args.
func (n *Node) diffArgs(args []string) string {
	mine := n.top.Endpoints
	for i := 0; i < len(mine) && i < len(args); i++ {
		if u := mine[i].URL(n.top.Scheme); u != args[i] {
			return fmt.Sprintf("drive %d is %s here, %s in the deployment", i+1, u, args[i])
		}
	}
	return fmt.Sprintf("it names %d drives, the deployment %d", len(mine), len(args))
}

// checkLocal checks every local drive against the agreement: a fresh drive is formatted
// for its position; a drive of another deployment, or of another position, is refused.
// A drive whose record cannot be read or parsed is left to the deployment, which leaves it
// out and heals it.
func (n *Node) checkLocal(ctx context.Context, a *Agreement) error {
	for s, set := range a.Positions {
		for i, e := range set {
			d, ok := n.local[e]
			if !ok {
				continue
			}
			b, err := d.ReadFormat(ctx)
			switch {
			case errors.Is(err, storage.ErrUnformatted):
				rec, err := format.Marshal(a.format(s, i))
				if err != nil {
					return err
				}
				if err := d.WriteFormat(ctx, rec); err != nil {
					return fmt.Errorf("formatting drive %s: %w", d, err)
				}
				n.log.Info("drive formatted for the cluster", "drive", d.String(), "set", s, "position", i)
				continue
			case err != nil:
				n.log.Warn("drive's format record unreadable: the deployment leaves it out", "drive", d.String(), "err", err)
				continue
			}
			f, err := format.Parse(b)
			if err != nil {
				n.log.Warn("drive's format record damaged: the deployment leaves it out", "drive", d.String(), "err", err)
				continue
			}
			want := a.format(s, i)
			switch {
			case f.DeploymentID != a.DeploymentID:
				return fmt.Errorf("drive %s belongs to deployment %s, this cluster is deployment %s (etcd): a drive of another deployment was given", d, f.DeploymentID, a.DeploymentID)
			case f.DriveID != want.DriveID:
				return fmt.Errorf("drive %s holds drive id %s, the cluster puts drive %s at set %d position %d: were drives swapped or the list reordered?", d, f.DriveID, want.DriveID, s, i)
			case f.PlacementKey != a.PlacementKey:
				return fmt.Errorf("drive %s holds placement key %s, the cluster %s", d, f.PlacementKey, a.PlacementKey)
			}
		}
	}
	return nil
}
