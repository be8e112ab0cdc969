package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

var secret = []byte("node-test-secret-0123456789")

// logBuffer is a slog destination tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start starts node self of args on the shared etcd under namespace ns.
func start(t *testing.T, etcd []string, ns, self string, args []string, log *slog.Logger, timeout time.Duration) (*cluster.Node, error) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := cluster.New(cluster.Config{Args: args, Self: self, Parity: -1, Etcd: etcd, EtcdNamespace: ns, Secret: secret,
		Deploy: deploy.Config{Log: log}, Log: log, WaitReport: 200 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	t.Cleanup(n.Close)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n, n.Start(ctx)
}

func drives(dir, node string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("http://%s%s", node, filepath.Join(dir, fmt.Sprintf("d%d", i))))
	}
	return out
}

func TestAgreementRefusesAnotherList(t *testing.T) {
	etcd := etcdtest.Start(t).Endpoints
	dir := t.TempDir()
	args := drives(dir, "127.0.0.1:9100", 2)
	if _, err := start(t, etcd, "/a", "127.0.0.1:9100", args, nil, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// The same node restarted with one drive more: the deployment's list differs.
	_, err := start(t, etcd, "/a", "127.0.0.1:9100", drives(dir, "127.0.0.1:9100", 3), nil, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "argument list differs") || !strings.Contains(err.Error(), "it names 3 drives, the deployment 2") {
		t.Fatalf("a third drive: %v", err)
	}
	other := []string{args[1], args[0]}
	_, err = start(t, etcd, "/a", "127.0.0.1:9100", other, nil, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "drive 1 is "+args[1]+" here, "+args[0]+" in the deployment") {
		t.Fatalf("the drives swapped in the list: %v", err)
	}
	// The same list again is the same deployment.
	if _, err := start(t, etcd, "/a", "127.0.0.1:9100", args, nil, 20*time.Second); err != nil {
		t.Fatalf("restart with the same list: %v", err)
	}
}

func TestAgreementRefusesAnotherDeploymentsDrive(t *testing.T) {
	etcd := etcdtest.Start(t).Endpoints
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := start(t, etcd, "/a", "127.0.0.1:9100", drives(dirA, "127.0.0.1:9100", 2), nil, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	argsB := drives(dirB, "127.0.0.1:9100", 2)
	b, err := start(t, etcd, "/b", "127.0.0.1:9100", argsB, nil, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	// A disk of deployment a mounted where b's second drive was.
	rec, err := os.ReadFile(filepath.Join(dirA, "d1", storage.SysVolume, "format.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "d2", storage.SysVolume, "format.json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = start(t, etcd, "/b", "127.0.0.1:9100", argsB, nil, 20*time.Second)
	want := filepath.Join(dirB, "d2") + " belongs to deployment " + a.Deployment.Layout.DeploymentID + ", this cluster is deployment " + b.Deployment.Layout.DeploymentID
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error saying %q", err, want)
	}
}

// A node alone of three cannot reach a read quorum (2 of the set of 3): it waits, says
// for which drives, and gives up when its context ends.
func TestWaitsAndSaysForWhom(t *testing.T) {
	etcd := etcdtest.Start(t).Endpoints
	var args []string
	for _, node := range []string{"127.0.0.1:9100", "127.0.0.1:9103", "127.0.0.1:9106"} {
		args = append(args, drives(t.TempDir(), node, 1)...)
	}
	var log logBuffer
	_, err := start(t, etcd, "/w", "127.0.0.1:9100", args, slog.New(slog.NewTextHandler(&log, nil)), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "set 0: 1 of 3, need 2") {
		t.Fatalf("got %v", err)
	}
	out := log.String()
	if !strings.Contains(out, "waiting for drives") || !strings.Contains(out, args[1]) || !strings.Contains(out, "unregistered_nodes=\"127.0.0.1:9103, 127.0.0.1:9106\"") {
		t.Fatalf("the log does not say whom the node waits for:\n%s", out)
	}
}

// An etcd without the cluster's format (another etcd, or one whose data was lost) is not
// taken as leave to create a new deployment over drives that hold one.
func TestNoNewDeploymentOverFormattedDrives(t *testing.T) {
	etcd := etcdtest.Start(t).Endpoints
	args := drives(t.TempDir(), "127.0.0.1:9100", 2)
	a, err := start(t, etcd, "/a", "127.0.0.1:9100", args, nil, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = start(t, etcd, "/lost", "127.0.0.1:9100", args, nil, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "etcd holds no cluster format") || !strings.Contains(err.Error(), a.Deployment.Layout.DeploymentID) {
		t.Fatalf("got %v", err)
	}
}
