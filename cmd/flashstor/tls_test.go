package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf"
)

// serialOf dials addr and returns the serial number of the certificate the server sent,
// with the connection (closed by the caller).
func serialOf(t *testing.T, addr string, ca *testpki.CA) (int64, *tls.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), conn
}

// healthOver sends GET /flashstor/health/live on an open connection and returns the status.
func healthOver(t *testing.T, conn *tls.Conn) int {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /flashstor/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServerTLS serves HTTPS from --certs-dir: aws-sdk-go-v2 and the aws CLI (with
// --ca-bundle) work over it, trusting only the test's CA; SIGHUP swaps the certificate for
// new connections while an open one keeps working.
func TestServerTLS(t *testing.T) {
	ca := testpki.NewCA(t, "flashstor cmd test CA")
	certs := t.TempDir()
	ca.Issue(t, 2).Write(t, certs, tlsconf.CertFile, tlsconf.KeyFile)
	srv := startServerLogged(t, t.TempDir(), "--certs-dir", certs)
	endpoint, logs := srv.endpoint, srv.stderr
	if !strings.HasPrefix(endpoint, "https://") {
		t.Fatalf("endpoint %s, want https", endpoint)
	}
	addr := strings.TrimPrefix(endpoint, "https://")
	client := s3Client(endpoint, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("secure")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("over TLS "), 200_000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("secure"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("secure"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("GET over TLS: %d bytes", len(got))
	}

	awsCLIOverTLS(t, endpoint, ca)

	// Reload: a new pair on disk, SIGHUP; new handshakes get it, an open connection
	// keeps serving.
	serial, open := serialOf(t, addr, ca)
	defer open.Close()
	if serial != 2 {
		t.Fatalf("serial %d before the reload, want 2", serial)
	}
	ca.Issue(t, 3).Write(t, certs, tlsconf.CertFile, tlsconf.KeyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new certificate", func() bool {
		s, c := serialOf(t, addr, ca)
		c.Close()
		return s == 3
	})
	if st := healthOver(t, open); st != 200 {
		t.Errorf("the connection opened before the reload: %d", st)
	}

	// A bad pair on disk: SIGHUP keeps the good one and says so.
	if err := os.WriteFile(filepath.Join(certs, tlsconf.KeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused reload in the log", func() bool { return strings.Contains(logs.String(), "certificates not reloaded") })
	if s, c := serialOf(t, addr, ca); s != 3 {
		t.Errorf("after a SIGHUP with a bad key on disk: serial %d, want 3 (kept)", s)
	} else {
		c.Close()
	}
}

// awsCLIOverTLS copies a file up and down with the aws CLI trusting only the test's CA.
func awsCLIOverTLS(t *testing.T, endpoint string, ca *testpki.CA) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("FLASHSTOR_REQUIRE_TOOLS") != "" {
			t.Fatal("the aws CLI is not installed and FLASHSTOR_REQUIRE_TOOLS is set")
		}
		t.Log("aws CLI not installed: skipping its part")
		return
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	cfg := filepath.Join(dir, "config")
	src, dst := filepath.Join(dir, "up.txt"), filepath.Join(dir, "down.txt")
	for path, data := range map[string]string{
		bundle: string(ca.PEM),
		cfg:    "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n",
		src:    strings.Repeat("aws cli over TLS\n", 1000),
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	awsRun := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", endpoint, "--ca-bundle", bundle}, args...)...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"AWS_ACCESS_KEY_ID=testadmin", "AWS_SECRET_ACCESS_KEY=test-secret-123",
			"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
			"AWS_PAGER=",
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	awsRun("s3", "cp", "--only-show-errors", src, "s3://secure/cli/up.txt")
	awsRun("s3", "cp", "--only-show-errors", "s3://secure/cli/up.txt", dst)
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Errorf("aws s3 cp round trip: %d bytes back, want %d", len(b), len(a))
	}
	if ls := awsRun("s3", "ls", "s3://secure/cli/"); !strings.Contains(ls, "up.txt") {
		t.Errorf("aws s3 ls: %q", ls)
	}
}

// TestServerRefusesBadCertificates: a key that does not match its certificate, or no pair
// at all, stops the start with a message naming the files.
func TestServerRefusesBadCertificates(t *testing.T) {
	t.Setenv("FLASHSTORE_ROOT_USER", "testadmin")
	t.Setenv("FLASHSTORE_ROOT_PASSWORD", "test-secret-123")
	ca := testpki.NewCA(t, "flashstor cmd test CA")
	mismatched := t.TempDir()
	ca.Issue(t, 2).Write(t, mismatched, tlsconf.CertFile, "unused.key")
	ca.Issue(t, 3).Write(t, mismatched, "unused.crt", tlsconf.KeyFile)
	for name, dir := range map[string]string{"mismatched pair": mismatched, "empty directory": t.TempDir()} {
		err := run(context.Background(), []string{"server", "--address", "127.0.0.1:0", "--certs-dir", dir,
			filepath.Join(t.TempDir(), "d1")}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--certs-dir") || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: %v, want an error naming --certs-dir and %s", name, err, dir)
		}
	}
}
