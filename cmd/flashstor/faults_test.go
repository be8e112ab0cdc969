package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The fault tests of a four-node cluster of real processes (faults_cluster_test.go):
//
//	go test -run '^TestClusterFault' -v ./cmd/flashstor/
//	FLASHSTOR_LIN_OPS=2000 FLASHSTOR_FAULT_HOLD=60s go test -timeout 30m -run '^TestClusterFault' ./cmd/flashstor/
//
// FLASHSTOR_FAULT_HOLD is how long a fault lasts (a node down, cut off or slow; default a
// few seconds); FLASHSTOR_FAULT_PAUSE how long a node stays stopped (default 12 s, past the
// owner lease of 10 s).

// faultHold is how long a fault lasts before it is undone.
func faultHold(t *testing.T) time.Duration {
	return faultEnvDuration(t, "FLASHSTOR_FAULT_HOLD", 4*time.Second)
}

// TestClusterFaultKill kills node 4 with SIGKILL while clients write through every node,
// restarts it, and checks every acknowledged object byte for byte through every node (the
// restarted one included, whose drives missed the writes made while it was down) and the
// hot keys' history for linearizability.
func TestClusterFaultKill(t *testing.T) {
	c := newFaultCluster(t, nil)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c)
	time.Sleep(2 * time.Second)
	c.nodes[3].stop(syscall.SIGKILL)
	time.Sleep(faultHold(t))
	c.nodes[3].start()
	if t.Failed() {
		t.FailNow()
	}
	w.finish(2*time.Second, 0, 1, 2, 3)
}

// TestClusterFaultEtcdMember kills node 2, which runs one of the three embedded etcd
// members, and leaves it down: the cluster keeps serving reads and writes through the
// other nodes, and keeps changing what lives in etcd (a bucket is created).
func TestClusterFaultEtcdMember(t *testing.T) {
	c := newFaultCluster(t, nil)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c)
	time.Sleep(2 * time.Second)
	c.nodes[1].stop(syscall.SIGKILL)
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

// TestClusterFaultPause stops node 4 with SIGSTOP for longer than the owner lease while
// clients write through every node (some of node 4's writes are in flight when it stops),
// then resumes it. Whatever node 4 had in flight must not overwrite what the others wrote
// meanwhile: the history stays linearizable and every acknowledged object is whole. The
// refusals node 4's clients got after the resume are logged (client errors).
func TestClusterFaultPause(t *testing.T) {
	c := newFaultCluster(t, nil)
	c.makeBucket(0, faultBucket)
	w := startFaultWork(t, c)
	time.Sleep(2 * time.Second)
	c.nodes[3].signal(syscall.SIGSTOP)
	time.Sleep(faultEnvDuration(t, "FLASHSTOR_FAULT_PAUSE", 12*time.Second))
	c.nodes[3].signal(syscall.SIGCONT)
	w.finish(3*time.Second, 0, 1, 2, 3)
}
