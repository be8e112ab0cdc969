package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/lincheck"
)

// The fault tests of a four-node cluster of real processes (faults_cluster_test.go):
//
//	go test -run '^TestClusterFault' -v ./cmd/flashstor/
//	FLASHSTOR_LIN_OPS=2000 FLASHSTOR_FAULT_HOLD=60s go test -timeout 30m -run '^TestClusterFault' ./cmd/flashstor/
//
// FLASHSTOR_FAULT_HOLD is how long a fault lasts (a node down, cut off or slow; default a
// few seconds); FLASHSTOR_FAULT_PAUSE how long a node stays stopped (default 25 s, past the
// owner lease of 10 s twice over).

// faultHold is how long a fault lasts before it is undone.
func faultHold(t *testing.T) time.Duration {
	return faultEnvDuration(t, "FLASHSTOR_FAULT_HOLD", 4*time.Second)
}

// TestClusterFaultKill kills node 4 with SIGKILL while clients write through every node,
// restarts it, and checks every acknowledged object byte for byte through every node (the
// restarted one included, whose drives missed the writes made while it was down) and the
// hot keys' history for linearizability. Then, all nodes stopped, an offline heal pass of
// their drives reports what the running cluster left to heal, and a second pass must find
// nothing.
func TestClusterFaultKill(t *testing.T) {
	c := newFaultCluster(t, nil, nil...)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c, faultOpTimeout)
	time.Sleep(2 * time.Second)
	c.nodes[3].stop(syscall.SIGKILL, time.Minute)
	time.Sleep(faultHold(t))
	c.nodes[3].start()
	if t.Failed() {
		t.FailNow()
	}
	w.finish(2*time.Second, 0, 1, 2, 3)
	c.stopAll()
	t.Logf("first heal pass after the kill and restart:\n%s", tail(c.offlineHeal(), 20))
	if second := c.offlineHeal(); !strings.Contains(second, "heal done: 0 objects healed, 0 dangling removed") {
		t.Fatalf("a second heal pass found more to do:\n%s", second)
	}
}

// offlineHeal runs flashstor heal on the drives of the stopped cluster (their directories,
// in the order of the cluster's list) and returns what it printed.
func (c *faultCluster) offlineHeal() string {
	c.t.Helper()
	var drives []string
	for _, u := range c.list {
		// http://host:port/dir/nX/d{1...2}: the path after the authority.
		i := strings.Index(strings.TrimPrefix(u, "http://"), "/")
		drives = append(drives, strings.TrimPrefix(u, "http://")[i:])
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"heal"}, drives...), &out, &errOut); err != nil {
		c.t.Fatalf("offline heal of %v: %v\n%s\n%s", drives, err, out.String(), tail(errOut.String(), 20))
	}
	return out.String()
}

// TestClusterFaultEtcdMember kills node 2, which runs one of the three embedded etcd
// members, and leaves it down: the cluster keeps serving reads and writes through the
// other nodes, and keeps changing what lives in etcd (a bucket is created).
func TestClusterFaultEtcdMember(t *testing.T) {
	c := newFaultCluster(t, nil, nil...)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c, faultOpTimeout)
	time.Sleep(2 * time.Second)
	c.nodes[1].stop(syscall.SIGKILL, time.Minute)
	time.Sleep(faultHold(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.client(2).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("after-member-lost")}); err != nil {
		t.Errorf("creating a bucket through node 3 with one etcd member of three lost: %v", err)
	}
	if _, err := c.client(3).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("after-member-lost")}); err != nil {
		t.Errorf("the bucket created through node 3, through node 4: %v", err)
	}
	w.finish(2*time.Second, 0, 2, 3)
}

// TestClusterFaultPause stops node 1 with SIGSTOP for longer than the owner lease while
// clients write through every node, then resumes it. Node 1 is the owner of the only
// erasure set (set i prefers node i mod N) and runs an etcd member: while it is stopped its
// lease ends, another node takes the set with a higher epoch and raises the fence of the
// drives, so what node 1 had in flight when it stopped must not commit after the resume,
// nor overwrite what the others wrote meanwhile: the history stays linearizable and every
// acknowledged object is whole. The refusals node 1's clients got after the resume (503:
// a fenced commit, or no owner yet) are counted and logged.
func TestClusterFaultPause(t *testing.T) {
	// 25 s: the 10 s lease, which etcd renews in full when its leader changes (node 1 runs
	// a member, perhaps the leader), then the takeover.
	pause := faultEnvDuration(t, "FLASHSTOR_FAULT_PAUSE", 25*time.Second)
	c := newFaultCluster(t, nil, nil...)
	c.makeBucket(0, faultBucket)
	// The clients wait out the pause, so that node 1's writes in flight get their answer
	// after the resume: the refusal of a fenced write, or its success.
	w := startFaultWork(t, c, pause+20*time.Second)
	time.Sleep(2 * time.Second)
	c.nodes[0].signal(syscall.SIGSTOP)
	time.Sleep(pause)
	c.nodes[0].signal(syscall.SIGCONT)
	w.finish(3*time.Second, 0, 1, 2, 3)
	var refused []string
	for _, code := range []string{"SlowDown", "ServiceUnavailable", "InternalError"} {
		for _, op := range []string{"PutObject", "DeleteObject"} {
			if n := w.errs.count(0, op, code); n > 0 {
				refused = append(refused, fmt.Sprintf("%s %d %s", op, n, code))
			}
		}
	}
	t.Logf("writes through node 1 refused after its resume: %v", refused)
	// The pause must have moved the set: else it showed nothing of fencing.
	moved := false
	for _, n := range c.nodes {
		for _, line := range n.lines("owner: ") {
			t.Logf("node %d: %s", n.i+1, line)
			moved = moved || n.i != 0 && strings.Contains(line, "set owned")
		}
	}
	if !moved {
		t.Errorf("no other node took set 0 over while node 1 was stopped for %v: the test showed nothing of fencing", pause)
	}
}

// TestClusterFaultPartition cuts node 4 off the network (network namespaces: its veth goes
// down) while clients write through every node, then restores it: the others serve
// throughout, and afterwards every acknowledged object is whole through every node, the
// one cut off included, and the hot keys' history linearizable.
func TestClusterFaultPartition(t *testing.T) {
	nn := newNetnsNet(t, faultNodes)
	c := newFaultCluster(t, nn, nil...)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c, faultOpTimeout)
	time.Sleep(2 * time.Second)
	nn.cut(3)
	time.Sleep(faultHold(t))
	nn.restore(3)
	w.finish(3*time.Second, 0, 1, 2, 3)
}

// TestClusterFaultSlowNode makes node 4 slow (every call to its drives from the other
// nodes waits 100 ms: the FLASHSTOR_TEST_NODE_API_DELAY hook, node 4 restarted with it)
// while clients write through every node. Requests through the other nodes must still
// complete, correctly; the latency a probe client sees through node 1, node 4 healthy then
// slow (no other traffic), then slow under the fault traffic, is logged (figures, not
// assertions: this machine is shared).
func TestClusterFaultSlowNode(t *testing.T) {
	c := newFaultCluster(t, nil, nil...)
	c.makeBucket(0, faultBucket)
	hold := faultHold(t)
	type probe struct {
		what              string
		puts, gets, lists latencies
	}
	var probes []probe
	// 64 KiB objects are inline (metadata only); 1 MiB ones are staged, then committed.
	measure := func(what string, d time.Duration) {
		for _, size := range []int{64 << 10, 1 << 20} {
			p := probe{what: fmt.Sprintf("%s: %d KiB", what, size>>10)}
			p.puts, p.gets, p.lists = probeLatency(t, c, 0, fmt.Sprintf("probe/%d", size), size, d)
			probes = append(probes, p)
		}
	}
	measure("node 4 healthy", hold/2)
	c.nodes[3].stop(syscall.SIGTERM, 30*time.Second)
	c.nodes[3].env = append(c.nodes[3].env, envNodeAPIDelay+"=100ms")
	c.nodes[3].start()
	if t.Failed() {
		t.FailNow()
	}
	measure("node 4's drive calls delayed 100 ms", hold/2)
	w := startFaultWork(t, c, faultOpTimeout)
	measure("node 4 slow, fault traffic running", hold/2)
	for _, p := range probes {
		t.Logf("through node 1, %s: PUT %s", p.what, p.puts)
		t.Logf("through node 1, %s: GET %s", p.what, p.gets)
		t.Logf("through node 1, %s: LIST %s", p.what, p.lists)
	}
	w.finish(time.Second, 0, 1, 2, 3)
}

// TestClusterLinearizabilityCatchesUnorderedWriters shows that the check can fail: with
// the writers of one key on different nodes not ordered by the set's owner (each node
// takes its locks locally: envLocalLocks, a test switch), twelve clients, three through
// each node, released at once, race to create the same fresh key with If-None-Match: *,
// round after round; porcupine must find the history not linearizable (two creations that
// both won) and name the visualisation it wrote. A linearizability check of the cluster
// that cannot fail would show nothing.
func TestClusterLinearizabilityCatchesUnorderedWriters(t *testing.T) {
	c := newFaultCluster(t, nil, envLocalLocks+"=1")
	c.makeBucket(0, faultBucket)
	const clients, rounds = 12, 60
	rec := lincheck.NewRecorder()
	errs := &errTally{}
	stores := make([]*nodeStore, clients)
	for i := range stores {
		stores[i] = &nodeStore{c: c, node: i % len(c.nodes), errs: errs}
	}
	doubles := 0
	for round := 1; round <= rounds; round++ {
		key := fmt.Sprintf("race/%d", round)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		var won atomic.Int32
		for i, st := range stores {
			wg.Go(func() {
				in := lincheck.Input{Key: key, Kind: lincheck.Put, Cond: lincheck.IfAbsent, Value: lincheck.Value(uint64(round)<<32 | uint64(i+1))}
				body := lincheck.Body(in.Value, 1<<10)
				<-gate
				op := rec.Call(i, in)
				err := st.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), lincheck.IfAbsent, "")
				switch {
				case err == nil:
					won.Add(1)
					op.End(lincheck.Output{Status: lincheck.OK})
				case errors.Is(err, objstore.ErrPreconditionFailed):
					op.End(lincheck.Output{Status: lincheck.PreconditionFailed})
				default:
					op.Ambiguous()
				}
			})
		}
		close(gate)
		wg.Wait()
		if won.Load() > 1 {
			doubles++
		}
	}
	t.Logf("rounds in which more than one creation won: %d of %d; client errors: %s", doubles, rounds, errs)
	rep := &capture{T: t}
	s := lincheck.Check(rep, rec.Operations(), time.Minute)
	if s.Result != porcupine.Illegal {
		t.Fatalf("%d rounds of %d racing creations of one key without ordering across nodes were found %v: the check shows nothing", rounds, clients, s.Result)
	}
	if _, err := os.Stat(s.Visualization); err != nil {
		t.Fatalf("the check failed but its visualisation is missing: %v", err)
	}
	t.Logf("the check failed, as it must: %s", rep.errs[len(rep.errs)-1])
}

// capture is a lincheck.Reporter that records failures instead of failing the test.
type capture struct {
	*testing.T
	errs []string
}

func (c *capture) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}
