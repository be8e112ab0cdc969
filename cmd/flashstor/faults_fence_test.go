package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/objstore/lincheck"
)

// TestClusterFaultHeldCommitFenced holds a PUT on the owner of the set between its lock
// grant and its commit (the FLASHSTOR_TEST_HOLD_COMMIT hook), stops that node (SIGSTOP)
// past its lease, lets another node take the set over and write the key, and resumes it:
// the held commit must be refused with 503 (the drives' fence refuses its older epoch)
// and the newer data kept, byte for byte, through every node.
// TestClusterFaultHeldCommitUnfencedLands shows that this check can fail, and fails
// without fencing.
func TestClusterFaultHeldCommitFenced(t *testing.T) {
	h := runHeldCommit(t)
	if statusOf(h.heldErr) != 503 {
		t.Fatalf("the held PUT, resumed after node %d took the set over: %v, want a 503 refusal", h.other+1, h.heldErr)
	}
	t.Logf("the held PUT was refused: %v", h.heldErr)
	for i, got := range h.readAll(t) {
		if !bytes.Equal(got, h.newer) {
			t.Fatalf("GET %s through node %d: %d bytes, not the newer %d-byte object (held one equal: %v)", heldKey, i+1, len(got), len(h.newer), bytes.Equal(got, h.held))
		}
	}
}

// TestClusterFaultHeldCommitUnfencedLands is the negative control of
// TestClusterFaultHeldCommitFenced: the same scenario with the held node's drive calls
// carrying no ownership epoch (the FLASHSTOR_TEST_NO_FENCE switch on node 1, the set's
// preferred owner; its locks still come from the set's owner). The held commit must then
// land after the resume, acknowledged, over the newer object that the new owner wrote
// meanwhile, through every node: what fencing prevents happens without it, so the fenced
// test's passing is fencing's doing.
func TestClusterFaultHeldCommitUnfencedLands(t *testing.T) {
	h := runHeldCommit(t, envNoFence+"=1")
	if h.heldErr != nil {
		t.Fatalf("the held PUT of the unfenced node %d, resumed after node %d took the set over: %v, want it acknowledged", h.owner+1, h.other+1, h.heldErr)
	}
	for i, got := range h.readAll(t) {
		if !bytes.Equal(got, h.held) {
			t.Fatalf("GET %s through node %d: %d bytes, not the held %d-byte object (newer one equal: %v): the stale commit did not land", heldKey, i+1, len(got), len(h.held), bytes.Equal(got, h.newer))
		}
	}
	t.Logf("without fencing, node %d's held PUT landed over node %d's newer object, through every node", h.owner+1, h.other+1)
}

// heldKey is the key of the held-commit scenario.
const heldKey = "held/k"

// heldCommit is what runHeldCommit saw.
type heldCommit struct {
	c *faultCluster
	// owner owned the set when its PUT was held; other took the set over meanwhile.
	owner, other int
	// held is the held PUT's body, newer the body written through other meanwhile.
	held, newer []byte
	// heldErr is the held PUT's answer after the resume.
	heldErr error
}

// runHeldCommit runs the held-commit scenario: a PUT of heldKey held between its lock grant
// and its commit on the set's owner (every node has the FLASHSTOR_TEST_HOLD_COMMIT hook),
// that node stopped (SIGSTOP) for FLASHSTOR_FAULT_PAUSE, past its lease, another node
// taking the set over and writing the key, the stopped node resumed and its PUT's answer
// awaited. ownerEnv, if any, is added to the environment of node 1 alone, the set's
// preferred owner, which must then be the owner (set i prefers node i mod N; the others
// campaign a lease later).
func runHeldCommit(t *testing.T, ownerEnv ...string) *heldCommit {
	t.Helper()
	pause := faultEnvDuration(t, "FLASHSTOR_FAULT_PAUSE", 25*time.Second)
	hook := envHoldCommit + "=" + heldKey + "=5s"
	c := newFaultClusterEach(t, nil, func(i int) []string {
		if i == 0 {
			return append([]string{hook}, ownerEnv...)
		}
		return []string{hook}
	})
	c.makeBucket(0, faultBucket)
	owner, epoch := setOwner(c)
	switch {
	case owner < 0:
		t.Fatal("no node logged that it owns the set")
	case len(ownerEnv) > 0 && owner != 0:
		t.Fatalf("node %d owns the set, not node 1, which has %v", owner+1, ownerEnv)
	}
	h := &heldCommit{c: c, owner: owner,
		held: lincheck.Body(lincheck.Value(1<<32|1), 64<<10), newer: lincheck.Body(lincheck.Value(2<<32|2), 64<<10)}

	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), pause+2*time.Minute)
		defer cancel()
		_, err := c.client(owner).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(heldKey), Body: bytes.NewReader(h.held)})
		res <- err
	}()
	waitLine(t, c.nodes[owner], "holding the commit", 0, 30*time.Second)
	c.nodes[owner].signal(syscall.SIGSTOP)
	resumed := false
	defer func() {
		if !resumed {
			c.nodes[owner].signal(syscall.SIGCONT)
		}
	}()
	time.Sleep(pause)
	other, newEpoch := -1, epoch
	for end := time.Now().Add(time.Minute); other < 0 || other == owner; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no node took the set over from node %d (epoch %d) within a minute of its pause of %v", owner+1, epoch, pause)
		}
		other, newEpoch = setOwner(c)
	}
	h.other = other
	t.Logf("node %d owned the set at epoch %d; node %d took it at epoch %d", owner+1, epoch, other+1, newEpoch)

	var err error
	// A node answers 503 until it knows the new owner. Every node has the hook, so the new
	// owner holds its first PUT of the key too (5 s): the timeout leaves room for it.
	for try := 0; try < 60; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = c.client(other).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(heldKey), Body: bytes.NewReader(h.newer)})
		cancel()
		if err == nil || statusOf(err) != 503 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the newer PUT through node %d while node %d is stopped: %v", other+1, owner+1, err)
	}

	c.nodes[owner].signal(syscall.SIGCONT)
	resumed = true
	select {
	case h.heldErr = <-res:
	case <-time.After(2 * time.Minute):
		t.Fatal("the held PUT got no answer two minutes after its node resumed")
	}
	return h
}

// readAll reads heldKey through every node (getRetrying) and fails t if a read fails.
func (h *heldCommit) readAll(t *testing.T) [][]byte {
	t.Helper()
	out := make([][]byte, len(h.c.nodes))
	for i := range h.c.nodes {
		got, err := getRetrying(h.c, i, heldKey)
		if err != nil {
			t.Fatalf("GET %s through node %d: %v", heldKey, i+1, err)
		}
		out[i] = got
	}
	return out
}

// setOwner returns the node that logged the newest ownership of the set (the highest
// epoch), and that epoch; -1 when none did.
func setOwner(c *faultCluster) (node, epoch int) {
	node, epoch = -1, -1
	for _, n := range c.nodes {
		for _, l := range n.lines("owner: set owned") {
			i := strings.Index(l, "epoch=")
			if i < 0 {
				continue
			}
			var e int
			if _, err := fmt.Sscan(l[i+len("epoch="):], &e); err == nil && e > epoch {
				node, epoch = n.i, e
			}
		}
	}
	return node, epoch
}

// waitLine waits until node n's output has more than after lines containing substr, for at
// most d.
func waitLine(t *testing.T, n *faultNode, substr string, after int, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for len(n.lines(substr)) <= after {
		if time.Now().After(end) {
			t.Fatalf("node %d did not log %q within %v:\n%s", n.i+1, substr, d, tail(n.out.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusOf returns the HTTP status of an S3 call's error (0 for none or no answer).
func statusOf(err error) int {
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		return resp.HTTPStatusCode()
	}
	return 0
}

// getRetrying reads key through node i, retrying 503 for up to 30 s (a node that just
// resumed learns the set's new owner).
func getRetrying(c *faultCluster, i int, key string) ([]byte, error) {
	var err error
	for try := 0; try < 60; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var o *s3.GetObjectOutput
		o, err = c.client(i).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key)})
		if err == nil {
			var b []byte
			b, err = io.ReadAll(o.Body)
			o.Body.Close()
			cancel()
			if err == nil {
				return b, nil
			}
		}
		cancel()
		if statusOf(err) != 503 && !strings.Contains(fmt.Sprint(err), "SlowDown") {
			return nil, err
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil, err
}
