package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
)

// waitQuorum waits until every set has a read quorum (its data shard count) of drives that
// hold the agreed format for their position, logging every WaitReport the drives and nodes
// it still waits for.
func (n *Node) waitQuorum(ctx context.Context, a *Agreement) error {
	drives := make(map[int]storage.Drive)
	for _, set := range a.Positions {
		for _, e := range set {
			d, err := n.openDrive(a.Args[e])
			if err != nil {
				return err
			}
			drives[e] = d
		}
	}
	last := time.Now()
	for {
		missing, short := n.probe(ctx, a, drives)
		if len(short) == 0 {
			return nil
		}
		if time.Since(last) >= n.cfg.WaitReport {
			var nodes []string
			if ms, err := n.Members(ctx); err == nil {
				up := make(map[string]bool)
				for _, m := range ms {
					up[m.Node] = true
				}
				for _, node := range n.top.Nodes {
					if !up[node] {
						nodes = append(nodes, node)
					}
				}
			}
			n.log.Warn("waiting for drives: sets below read quorum", "sets", strings.Join(short, "; "),
				"drives", strings.Join(missing, ", "), "unregistered_nodes", strings.Join(nodes, ", "))
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a read quorum of drives in every set (%s): %w", strings.Join(short, "; "), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe reads every drive's record once; it returns the drives that do not hold the
// agreed one (and why) and the sets below read quorum.
func (n *Node) probe(ctx context.Context, a *Agreement, drives map[int]storage.Drive) (missing, short []string) {
	type result struct {
		ok  bool
		why string
	}
	res := make([][]result, len(a.Positions))
	var wg sync.WaitGroup
	for s, set := range a.Positions {
		res[s] = make([]result, len(set))
		for i, e := range set {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				b, err := drives[e].ReadFormat(cctx)
				if err == nil {
					f, perr := format.Parse(b)
					switch {
					case perr != nil:
						err = perr
					case f.DeploymentID != a.DeploymentID || f.DriveID != a.Sets[s][i]:
						err = fmt.Errorf("holds drive %s of deployment %s", f.DriveID, f.DeploymentID)
					}
				}
				if err != nil {
					res[s][i] = result{why: err.Error()}
					return
				}
				res[s][i] = result{ok: true}
			})
		}
	}
	wg.Wait()
	for s, set := range a.Positions {
		ok := 0
		for i, e := range set {
			if res[s][i].ok {
				ok++
			} else {
				missing = append(missing, fmt.Sprintf("%s (%s)", a.Args[e], res[s][i].why))
			}
		}
		if need := len(set) - a.Parity; ok < need {
			short = append(short, fmt.Sprintf("set %d: %d of %d, need %d", s, ok, len(set), need))
		}
	}
	return missing, short
}
