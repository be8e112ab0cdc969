package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The fault suite of a four-node cluster (issue 14): real server processes (this test
// binary re-executed as TestChaosChild, as the chaos soak does) on four addresses, faults
// injected from outside by process id (SIGKILL, SIGSTOP/SIGCONT) or by the network (network
// namespaces, faults_netns_test.go), S3 clients (aws-sdk-go-v2) writing through every node
// meanwhile. After each fault every acknowledged object is read back byte for byte through
// every live node, and the history of the hot keys is checked for linearizability
// (objstore/lincheck, porcupine).

// faultNodes is the size of the fault suite's cluster: the first three run the embedded
// etcd members.
const faultNodes = 4

// faultCluster is a cluster of server processes.
type faultCluster struct {
	t     testing.TB
	hosts []string // the nodes' IP addresses
	port  int
	list  []string // the drive URL list every node is given
	nodes []*faultNode
	// netns runs each node in a network namespace of its own; nil: all on loopback.
	netns *netnsNet
}

// faultNode is one node's server process, restartable.
type faultNode struct {
	c    *faultCluster
	i    int // 0-based
	host string
	// out is the output of every process this node ran.
	out lockedBuffer
	// env is added to the environment of the processes started from now on (test hooks).
	env []string

	mu sync.Mutex
	// cmd and exited are the running process's, nil while none runs. GUARDED_BY(mu).
	cmd    *exec.Cmd
	exited chan struct{}
}

// endpoint is the node's S3 URL.
func (n *faultNode) endpoint() string { return fmt.Sprintf("http://%s:%d", n.host, n.c.port) }

// newFaultCluster starts four nodes with two drives each (one erasure set of eight drives
// spanning them, so that losing a node costs two drives) and waits until every node
// serves. With netns, each node runs in a namespace of its own on netns's addresses;
// otherwise on 127.0.0.1 to 127.0.0.4. Every node's environment has env added (test
// switches).
func newFaultCluster(t testing.TB, netns *netnsNet, env ...string) *faultCluster {
	t.Helper()
	return newFaultClusterEach(t, netns, func(int) []string { return env })
}

// newFaultClusterEach is newFaultCluster with env(i) added to the environment of node i
// (from 0) alone.
func newFaultClusterEach(t testing.TB, netns *netnsNet, env func(i int) []string) *faultCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("the cluster fault suite runs without -short (scripts/test.sh's step without -short, not under -race)")
	}
	c := &faultCluster{t: t, netns: netns}
	if netns != nil {
		c.hosts, c.port = netns.hosts, 9000
	} else {
		c.port = clusterPort(t)
		for i := 1; i <= faultNodes; i++ {
			c.hosts = append(c.hosts, fmt.Sprintf("127.0.0.%d", i))
		}
	}
	dir := t.TempDir()
	for i, h := range c.hosts {
		c.list = append(c.list, fmt.Sprintf("http://%s:%d%s/n%d/d{1...2}", h, c.port, dir, i+1))
	}
	for i, h := range c.hosts {
		c.nodes = append(c.nodes, &faultNode{c: c, i: i, host: h, env: env(i)})
	}
	t.Cleanup(c.stopAll)
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() { n.start() })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return c
}

var endpointLine = regexp.MustCompile(`S3 endpoint:\s+http://\S+`)

// start runs the node's server and waits until it serves (at most 90 s). It reports a
// failure with t.Errorf (it may run on another goroutine than the test's).
func (n *faultNode) start() {
	t := n.c.t
	args := []string{"server", "--address", fmt.Sprintf("%s:%d", n.host, n.c.port), "--lifecycle-interval", "0"}
	if lvl := os.Getenv(envTestEtcdLog); lvl != "" {
		args = append(args, "--etcd-log", lvl)
	}
	args = append(args, n.c.list...)
	var cmd *exec.Cmd
	if n.c.netns != nil {
		cmd = exec.Command("ip", "netns", "exec", n.c.netns.ns[n.i], os.Args[0], "-test.run=^TestChaosChild$")
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestChaosChild$")
	}
	cmd.Env = append(os.Environ(), envChaosChild+"="+strings.Join(args, "\n"),
		"FLASHSTORE_ROOT_USER=testadmin", "FLASHSTORE_ROOT_PASSWORD=test-secret-123")
	cmd.Env = append(cmd.Env, n.env...)
	from := len(n.out.String())
	fmt.Fprintf(&n.out, "=== node %d started at %s\n", n.i+1, time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = &n.out, &n.out
	// A process group of its own: when the group that runs the tests is orphaned while a
	// node of it is paused (its launching shell exits), the kernel sends the whole group
	// SIGHUP and SIGCONT, which would end a pause early.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Errorf("node %d: %v", n.i+1, err)
		return
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for !endpointLine.MatchString(n.out.String()[from:]) {
		select {
		case <-exited:
			t.Errorf("node %d exited before serving:\n%s", n.i+1, tail(n.out.String()[from:], 60))
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Errorf("node %d did not serve within 90 s:\n%s", n.i+1, tail(n.out.String()[from:], 60))
			return
		}
	}
}

// pid is the running process's id, 0 if none runs.
func (n *faultNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// signal sends sig to the running process (by its id: only the process this test started).
func (n *faultNode) signal(sig syscall.Signal) {
	n.c.t.Helper()
	pid := n.pid()
	if pid == 0 {
		n.c.t.Fatalf("node %d: no process to send %v", n.i+1, sig)
	}
	fmt.Fprintf(&n.out, "=== node %d: %v at %s\n", n.i+1, sig, time.Now().Format(time.RFC3339Nano))
	if err := syscall.Kill(pid, sig); err != nil {
		n.c.t.Fatalf("node %d: kill(%d, %v): %v", n.i+1, pid, sig, err)
	}
}

// stop ends the running process with sig (SIGKILL, or SIGTERM and SIGKILL after grace)
// and waits for it.
func (n *faultNode) stop(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot stop
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		// Logged, not failed: the fault tests check the data, not the shutdown (which
		// TestClusterProcesses checks); a node of a cluster stopping all at once can wait on
		// an etcd that lost its quorum.
		n.c.t.Logf("node %d did not stop within %v of %v: killed", n.i+1, grace, sig)
		cmd.Process.Kill()
		<-exited
	}
}

// stopAll stops every node (SIGTERM), and logs their output if the test failed.
func (c *faultCluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() { n.stop(syscall.SIGTERM, 10*time.Second) })
	}
	wg.Wait()
	if dir := os.Getenv(envTestLogDir); dir != "" {
		for _, n := range c.nodes {
			name := filepath.Join(dir, fmt.Sprintf("%s-%s-node%d.log", strings.ReplaceAll(c.t.Name(), "/", "_"), time.Now().Format("150405"), n.i+1))
			if err := os.WriteFile(name, []byte(n.out.String()), 0o644); err != nil {
				c.t.Logf("node %d: keeping its output: %v", n.i+1, err)
			}
		}
	}
	if c.t.Failed() {
		for _, n := range c.nodes {
			c.t.Logf("node %d (last lines):\n%s", n.i+1, tail(n.out.String(), 80))
		}
	}
}

// The fault suite's diagnostics: envTestEtcdLog passes its value to every node's
// --etcd-log (the etcd member's and client's logs in the node's output), envTestLogDir
// names a directory that keeps every node's whole output, pass or fail.
const (
	envTestEtcdLog = "FLASHSTOR_TEST_ETCD_LOG"
	envTestLogDir  = "FLASHSTOR_TEST_LOG_DIR"
)

// client returns an S3 client of node i that never retries (a retried conditional write
// could report 412 for its own first attempt).
func (c *faultCluster) client(i int) *s3.Client {
	return s3Client(c.nodes[i].endpoint(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
}

// makeBucket creates bucket through node i, retrying while the cluster settles (a node
// answers 503 until it has opened the deployment).
func (c *faultCluster) makeBucket(i int, bucket string) {
	c.t.Helper()
	var err error
	for try := 0; try < 60; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.client(i).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		cancel()
		if err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("creating bucket %s through node %d: %v", bucket, i+1, err)
}

// lines returns the lines of the node's output that contain substr (at most 50).
func (n *faultNode) lines(substr string) []string {
	var out []string
	for _, l := range strings.Split(n.out.String(), "\n") {
		if strings.Contains(l, substr) && len(out) < 50 {
			out = append(out, l)
		}
	}
	return out
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
