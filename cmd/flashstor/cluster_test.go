package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

// clusterPort returns a port free on 127.0.0.1 to 127.0.0.4 with its two next ports (the
// embedded etcd's).
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		free := port+2 < 65536
		for i := 1; i <= 4 && free; i++ {
			for off := 0; off <= 2 && free; off++ {
				l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i, port+off))
				if err != nil {
					free = false
					break
				}
				l.Close()
			}
		}
		if free {
			return port
		}
	}
	t.Fatal("no port free on 127.0.0.1-4 with its two next ports in 100 tries")
	return 0
}

// clusterProcess is one node's server process.
type clusterProcess struct {
	cmd    *exec.Cmd
	out    lockedBuffer
	exited chan struct{}
}

// TestClusterProcesses starts four server processes, 127.0.0.1 to 127.0.0.4 on one port,
// each with two drives and the same list (the first three run the embedded etcd), writes
// through one node with aws-sdk-go-v2 and reads through the others.
func TestClusterProcesses(t *testing.T) {
	port := clusterPort(t)
	dir := t.TempDir()
	var list []string
	for i := 1; i <= 4; i++ {
		list = append(list, fmt.Sprintf("http://127.0.0.%d:%d%s/n%d/d{1...2}", i, port, dir, i))
	}
	procs := make([]*clusterProcess, 4)
	for i := range procs {
		args := append([]string{"server", "--address", fmt.Sprintf("127.0.0.%d:%d", i+1, port), "--lifecycle-interval", "0"}, list...)
		p := &clusterProcess{exited: make(chan struct{})}
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestChaosChild$")
		p.cmd.Env = append(os.Environ(), envChaosChild+"="+strings.Join(args, "\n"),
			"FLASHSTORE_ROOT_USER=testadmin", "FLASHSTORE_ROOT_PASSWORD=test-secret-123")
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.cmd.Wait(); close(p.exited) }()
		procs[i] = p
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for i, p := range procs {
			wg.Go(func() {
				p.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-p.exited:
				case <-time.After(30 * time.Second):
					t.Errorf("node %d did not stop within 30 s of SIGTERM", i+1)
					p.cmd.Process.Kill()
					<-p.exited
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			for i, p := range procs {
				t.Logf("node %d:\n%s", i+1, p.out.String())
			}
		}
	})
	endpoint := regexp.MustCompile(`S3 endpoint:\s+(http://\S+)`)
	endpoints := make([]string, 4)
	deadline := time.Now().Add(60 * time.Second)
	for i, p := range procs {
		for endpoints[i] == "" {
			if m := endpoint.FindStringSubmatch(p.out.String()); m != nil {
				endpoints[i] = m[1]
				break
			}
			select {
			case <-p.exited:
				t.Fatalf("node %d exited before serving:\n%s", i+1, p.out.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d did not serve within 60 s", i+1)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c1, c3 := s3Client(endpoints[0]), s3Client(endpoints[2])
	if _, err := c1.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("spread")}); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i, size := range []int{0, 1000, 3 << 20} {
		key := fmt.Sprintf("obj-%d", i)
		bodies[key] = bytes.Repeat([]byte{byte('a' + i)}, size)
		if _, err := c1.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("spread"), Key: aws.String(key), Body: bytes.NewReader(bodies[key])}); err != nil {
			t.Fatalf("PUT %s through node 1: %v", key, err)
		}
	}
	for n, e := range endpoints[1:] {
		c := s3Client(e)
		for key, want := range bodies {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("spread"), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GET %s through node %d: %v", key, n+2, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("GET %s through node %d: %d bytes, %v; want %d", key, n+2, len(got), err, len(want))
			}
		}
	}
	// The health endpoints answer on a cluster node's listener too.
	resp, err := http.Get(endpoints[3] + "/flashstor/health/ready")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("node 4 ready: %v, %v", resp, err)
	}
	resp.Body.Close()
	list3, err := c3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("spread")})
	if err != nil || len(list3.Contents) != len(bodies) {
		t.Fatalf("list through node 3: %v, %v", list3, err)
	}
	// Node 2's two drives hold the metadata of every object and a shard of the large one:
	// the set spans the nodes.
	meta, _ := filepath.Glob(filepath.Join(dir, "n2", "d*", "spread", "obj-*%m"))
	parts, _ := filepath.Glob(filepath.Join(dir, "n2", "d*", "spread", "%data", "*", "part.1"))
	if len(meta) != 2*len(bodies) || len(parts) != 2 {
		out, _ := exec.Command("find", filepath.Join(dir, "n2")).CombinedOutput()
		t.Fatalf("node 2's drives hold %d metadata files and %d shards of parts, want %d and 2:\n%s", len(meta), len(parts), 2*len(bodies), out)
	}
}

// The offline heal of a cluster's URL list is refused, not taken as local directories
// named "http:".
func TestHealRefusesAClusterList(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"heal", "http://127.0.0.{1...4}:9000/data{1...4}"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "a cluster's nodes heal their sets while they run") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("heal created %v", entries)
	}
}
