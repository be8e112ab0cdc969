package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/testport"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/internal/tlsconf/tlsconftest"
	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/cluster/owner"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// clusterPort returns a port free on 127.0.0.1 to 127.0.0.4 with its two next ports (the
// embedded etcd's).
func clusterPort(t testing.TB) int {
	t.Helper()
	return testport.Pick(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}, []int{0, cluster.EtcdClientOffset, cluster.EtcdPeerOffset})
}

// clusterProcess is one node's server process.
type clusterProcess struct {
	cmd    *exec.Cmd
	out    lockedBuffer
	exited chan struct{}
}

// TestClusterProcesses starts four server processes, 127.0.0.1 to 127.0.0.4 on one port,
// each with two drives and the same list (the first three run the embedded etcd), writes
// through one node with aws-sdk-go-v2 and reads through the others; then sets versioning,
// a bucket policy and an IAM user through node 1 and sees node 3 enforce them.
func TestClusterProcesses(t *testing.T) {
	port := clusterPort(t)
	dir := t.TempDir()
	var list []string
	for i := 1; i <= 4; i++ {
		list = append(list, fmt.Sprintf("http://127.0.0.%d:%d%s/n%d/d{1...2}", i, port, dir, i))
	}
	var addrs []string
	for i := 1; i <= 4; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d:%d", i, port))
	}
	endpoints := startClusterProcesses(t, addrs, list)
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
	// the set spans the nodes. A small object's metadata file reaches a drive's tree from
	// its redo log's backlog a second after the drive's last commit (or at a listing of
	// that drive), so the files are counted until they are all there, 10 s at most.
	var meta, parts []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		meta, _ = filepath.Glob(filepath.Join(dir, "n2", "d*", "spread", "obj-*%m"))
		parts, _ = filepath.Glob(filepath.Join(dir, "n2", "d*", "spread", "%data", "*", "part.1"))
		if len(meta) == 2*len(bodies) && len(parts) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(meta) != 2*len(bodies) || len(parts) != 2 {
		out, _ := exec.Command("find", filepath.Join(dir, "n2")).CombinedOutput()
		t.Fatalf("node 2's drives hold %d metadata files and %d shards of parts, want %d and 2:\n%s", len(meta), len(parts), 2*len(bodies), out)
	}
	checkSettingsAcrossNodes(t, ctx, c1, endpoints[0], endpoints[2])
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

// eventually retries cond every 50 ms for 10 s at most: a setting changed through one node
// reaches the others through etcd's watch, at once but not synchronously.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	var err error
	for range 200 {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// checkSettingsAcrossNodes sets bucket versioning, a bucket policy and an IAM user through
// the node at one (c1 its root client) and checks that the node at three enforces them:
// the settings live in etcd, and each node's caches follow its watch.
func checkSettingsAcrossNodes(t *testing.T, ctx context.Context, c1 *s3.Client, one, three string) {
	t.Helper()
	c3 := s3Client(three)
	if _, err := c1.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("spread"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a PUT through node 3 after versioning was enabled through node 1", func() error {
		out, err := c3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("spread"), Key: aws.String("versioned"), Body: strings.NewReader("v")})
		if err != nil {
			return err
		}
		if v := aws.ToString(out.VersionId); v == "" || v == "null" {
			return fmt.Errorf("version id %q", v)
		}
		return nil
	})

	anonymous := func() (int, error) {
		resp, err := http.Get(three + "/spread/obj-1")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := anonymous(); err != nil || code != http.StatusForbidden {
		t.Fatalf("anonymous GET through node 3 before a policy: %d, %v", code, err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::spread/obj-1"}]}`
	if _, err := c1.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("spread"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "anonymous GET through node 3 of what a policy set through node 1 allows", func() error {
		if code, err := anonymous(); err != nil || code != http.StatusOK {
			return fmt.Errorf("%d, %v", code, err)
		}
		return nil
	})

	root := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(one), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")}); err != nil {
		t.Fatal(err)
	}
	read := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::spread/*"}]}`
	if _, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("reader"), PolicyName: aws.String("read"), PolicyDocument: aws.String(read)}); err != nil {
		t.Fatal(err)
	}
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	user := s3Client(three, func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	})
	eventually(t, "a GET through node 3 by a user created through node 1", func() error {
		out, err := user.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("spread"), Key: aws.String("obj-0")})
		if err == nil {
			out.Body.Close()
		}
		return err
	})
	if _, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("reader"), AccessKeyId: key.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 3 refusing a key deleted through node 1", func() error {
		out, err := user.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("spread"), Key: aws.String("obj-0")})
		if err == nil {
			out.Body.Close()
			return errors.New("the deleted key still works")
		}
		return nil
	})
}

// startClusterProcesses starts one server process per address with the drive list and
// the extra flags, stops them (SIGTERM) when t ends, and returns their S3 endpoints once
// every one serves.
func startClusterProcesses(t *testing.T, addrs, list []string, extra ...string) []string {
	t.Helper()
	return startClusterProcessesEach(t, addrs, list, func(int) []string { return extra })
}

// startClusterProcessesEach is startClusterProcesses with extra(i) the extra flags of
// node i (from 0).
func startClusterProcessesEach(t *testing.T, addrs, list []string, extra func(i int) []string) []string {
	t.Helper()
	procs := make([]*clusterProcess, len(addrs))
	for i := range procs {
		args := append([]string{"server", "--address", addrs[i], "--lifecycle-interval", "0"}, extra(i)...)
		args = append(args, list...)
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
	endpoint := regexp.MustCompile(`S3 endpoint:\s+(https?://\S+)`)
	endpoints := make([]string, len(addrs))
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
	return endpoints
}

// TestClusterProcessesTLS: two server processes on 127.0.0.1 with --certs-dir and an
// https:// list: S3 over TLS (no client certificate) through each node, the node API
// (drives, locks) and etcd (node 1 runs the member, node 2 is its client) over mutual TLS
// between them, etcd's ports giving nothing to a client without the cluster's
// certificate; an http:// list with --certs-dir, and an https:// --etcd without it, are
// refused with a message that says why.
func TestClusterProcessesTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	certs := tlsconftest.NodeDir(t, ca, 2)
	// 127.0.0.1:port runs the etcd member (port+1, port+2), 127.0.0.1:port+3 the other node.
	port, other := 0, 0
	for try := 0; other == 0; try++ {
		if try == 20 {
			t.Fatal("no four free consecutive ports on 127.0.0.1 in 20 tries")
		}
		port = clusterPort(t)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+3)); err == nil {
			l.Close()
			other = port + 3
		}
	}
	dir := t.TempDir()
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", other)}
	var list []string
	for i, a := range addrs {
		list = append(list, fmt.Sprintf("https://%s%s/n%d/d{1...2}", a, dir, i+1))
	}

	var out, errOut bytes.Buffer
	plain := []string{"server", "--address", addrs[0], "--certs-dir", certs}
	for _, l := range list {
		plain = append(plain, strings.Replace(l, "https://", "http://", 1))
	}
	if err := run(context.Background(), plain, &out, &errOut); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("an http:// list with --certs-dir: %v", err)
	}
	plain = append([]string{"server", "--address", addrs[0], "--etcd", "https://127.0.0.1:1"}, plain[5:]...)
	if err := run(context.Background(), plain, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--certs-dir") {
		t.Fatalf("an https:// --etcd without --certs-dir: %v", err)
	}

	endpoints := startClusterProcesses(t, addrs, list, "--certs-dir", certs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := func(endpoint string) *s3.Client {
		if !strings.HasPrefix(endpoint, "https://") {
			t.Fatalf("S3 endpoint %s is not https", endpoint)
		}
		return s3Client(endpoint, func(o *s3.Options) {
			o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
		})
	}
	c1, c2 := client(endpoints[0]), client(endpoints[1])
	if _, err := c2.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("mutual TLS between nodes "), 40000)
	if _, err := c2.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	got, err := c1.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("GET through node 1: %d bytes, %v", len(b), err)
	}
	// The node API wants the cluster CA's client certificate, whatever tokens a request
	// carries: S3's TLS (no client certificate) does not open it.
	secret := clusterSecret(rootCreds{user: "testadmin", secret: "test-secret-123"})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	for _, path := range []string{owner.APIPrefix + "release?id=x", remote.Prefix + "e0/diskinfo"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addrs[0]+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		remote.SignRequest(req, secret)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without a client certificate: %s, want 401", path, resp.Status)
		}
	}
	// Node 1 runs the etcd member (port+1, port+2), node 2 is its client: both over mutual
	// TLS, so nothing of etcd is given to a client without the cluster CA's certificate.
	store, err := tlsconf.Load(certs)
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.CheckMutualTLS(t, fmt.Sprintf("https://127.0.0.1:%d", port+1), fmt.Sprintf("https://127.0.0.1:%d", port+2),
		ca.Pool(), testpki.NewCA(t, "another CA").Issue(t, 3).TLS, store.NodeClientConfig(), cluster.FormatKey)
	t.Logf("S3 over TLS at %v, node API and etcd over mutual TLS", endpoints)
}
