package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/privsep"
)

// The privilege drop runs in a child process: it changes the credentials of the whole
// process for good, and the cgo build sets no_new_privs from a constructor that reads
// FLASHSTORE_RUN_USER before Go starts, so the variable must be in the environment at exec.
const (
	envServerChild = "FLASHSTOR_SERVER_CHILD" // set: TestServerChild runs the server
	envChildArgs   = "FLASHSTOR_CHILD_ARGS"   // the server's arguments, separated by newlines
	envSecretFile  = "FLASHSTOR_SECRET_FILE"  // a file only root may read
	probePrefix    = "PRIVILEGE-PROBE "
)

// probeReport is what the child saw when it tried privileged actions while serving.
type probeReport struct {
	Setuid0, Bind80, ReadSecret string // the errors; "" means the action succeeded
}

// TestServerChild is the child's side: it runs "flashstor server" with the arguments of
// its environment, and once the server answers it tries what only root may do, from
// inside the serving process, and prints what happened.
func TestServerChild(t *testing.T) {
	if os.Getenv(envServerChild) == "" {
		t.Skip("the child process of TestServerDropsPrivileges")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, strings.Split(os.Getenv(envChildArgs), "\n"), pw, os.Stderr)
		pw.Close()
	}()
	endpoint := regexp.MustCompile(`S3 endpoint:\s+(http://\S+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		fmt.Println(sc.Text())
		if m := endpoint.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(os.Stdout, pr)
			fmt.Println(probePrefix + probe())
			break
		}
	}
	if err := <-done; err != nil {
		fmt.Println("SERVER-ERROR", err)
		os.Exit(3)
	}
}

// probe tries privileged actions and reports their errors as JSON.
func probe() string {
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	var r probeReport
	r.Setuid0 = errText(syscall.Setuid(0))
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	if err == nil {
		ln.Close()
	}
	r.Bind80 = errText(err)
	f, err := os.Open(os.Getenv(envSecretFile))
	if err == nil {
		f.Close()
	}
	r.ReadSecret = errText(err)
	b, _ := json.Marshal(r)
	return string(b)
}

// child is the server running in a child process.
type child struct {
	cmd      *exec.Cmd
	out      *lockedBuffer // stdout and stderr
	exited   chan struct{} // closed when it exited (cmd.ProcessState is then set)
	endpoint string        // "" if it exited before serving
	probe    probeReport
}

// startChild runs the server in a child process as FLASHSTORE_RUN_USER=runUser on drives,
// and waits until it serves and has tried the privileged actions, or exits. The child is
// stopped when the test ends.
func startChild(t *testing.T, runUser, address, drives string) *child {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		envServerChild+"=1", envSecretFile+"="+secret,
		envChildArgs+"="+strings.Join([]string{"server", "--address", address, drives}, "\n"),
		privsep.EnvUser+"="+runUser,
		"FLASHSTORE_ROOT_USER=testadmin", "FLASHSTORE_ROOT_PASSWORD=test-secret-123",
	)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("the server child did not stop within 30s of SIGTERM")
		}
	})
	c := &child{cmd: cmd, out: out, exited: exited}
	endpoint := regexp.MustCompile(`S3 endpoint:\s+(http://\S+)`)
	for range 1000 { // 20s
		text := out.String()
		if i := strings.Index(text, probePrefix); i >= 0 {
			line, _, _ := strings.Cut(text[i+len(probePrefix):], "\n")
			if err := json.Unmarshal([]byte(line), &c.probe); err == nil {
				c.endpoint = endpoint.FindStringSubmatch(text)[1]
				return c
			}
		}
		select {
		case <-exited:
			return c
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the server child did not start in 20s:\n%s", out.String())
	return nil
}

// TestServerDropsPrivileges starts the server as root with a run user: it serves as that
// user, with no capability and no_new_privs on every thread, writes its drives as that
// user, and cannot do what root can.
func TestServerDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the privilege drop needs root")
	}
	drives := runUserDrives(t, 65534)
	addr := freePrivilegedPort(t)
	c := startChild(t, "nobody", addr, filepath.Join(drives, "d{1...4}"))
	if c.endpoint != "http://"+addr {
		t.Fatalf("the server did not start on the privileged port %s (endpoint %q):\n%s", addr, c.endpoint, c.out.String())
	}
	if !strings.Contains(c.out.String(), "dropped privileges") {
		t.Errorf("no 'dropped privileges' log line:\n%s", c.out.String())
	}

	// Every thread of the serving process: uid and gid 65534, no groups, no capability,
	// no_new_privs.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", c.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", c.cmd.Process.Pid, err)
	}
	for _, status := range tasks {
		b, err := os.ReadFile(status)
		if err != nil {
			continue // a thread that ended
		}
		fields := statusFields(string(b))
		for name, want := range map[string]string{
			"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "",
			"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "NoNewPrivs": "1",
		} {
			if got := fields[name]; got != want {
				t.Errorf("%s: %s %q, want %q", status, name, got, want)
			}
		}
	}

	// The actions tried from inside the serving process all failed.
	for what, err := range map[string]string{"setuid(0)": c.probe.Setuid0, "bind port 80": c.probe.Bind80, "read a root-only file": c.probe.ReadSecret} {
		if err == "" {
			t.Errorf("after the drop, %s succeeded", what)
		}
	}

	// Requests still work, and what they write belongs to the run user.
	client := s3Client(c.endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dropped")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("as nobody "), 50_000) // not inline: data files too
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("dropped"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dropped"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(b, body) {
		t.Fatalf("GET after the drop: %d bytes", len(b))
	}
	err = filepath.Walk(filepath.Join(drives, "d1"), func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st := info.Sys().(*syscall.Stat_t); st.Uid != 65534 {
			return fmt.Errorf("%s is owned by uid %d", path, st.Uid)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	resp, err := http.Get(c.endpoint + "/flashstor/health/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ready after the drop: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestServerRefusesUnwritableDrives: drives the run user cannot write stop the start with
// a message that names the drive and the user.
func TestServerRefusesUnwritableDrives(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the privilege drop needs root")
	}
	drives := runUserDrives(t, 0) // left to root
	c := startChild(t, "nobody", "127.0.0.1:0", filepath.Join(drives, "d{1...4}"))
	if c.endpoint != "" {
		t.Fatalf("the server started on drives nobody may write")
	}
	<-c.exited
	if c.cmd.ProcessState.Success() {
		t.Errorf("the child succeeded")
	}
	if !regexp.MustCompile(`drive \S+ is not writable by user nobody`).MatchString(c.out.String()) {
		t.Errorf("no clear message naming the drive and the user:\n%s", c.out.String())
	}
}

// freePrivilegedPort returns a loopback address with a port below 1024 that is free now:
// the server binds it as root, before the drop.
func freePrivilegedPort(t *testing.T) string {
	t.Helper()
	for port := 700; port < 1000; port++ {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port between 700 and 1000 on 127.0.0.1")
	return ""
}

// runUserDrives makes four drive directories owned by uid (and its group) under a
// directory every user may traverse, and returns that directory.
func runUserDrives(t *testing.T, uid int) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir's directories are private to root: open the path for the run user.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		d := filepath.Join(dir, "d"+strconv.Itoa(i))
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// statusFields parses /proc/PID/status lines "Name:\tvalue" (whitespace collapsed).
func statusFields(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok {
			out[name] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServerDropsPrivilegesWithoutADrive: a drive directory missing at start (an unmounted
// disk) does not stop a server that drops to a run user: the drive is left out, not checked
// for the run user, and the server serves what the others hold.
func TestServerDropsPrivilegesWithoutADrive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the privilege drop needs root")
	}
	drives := runUserDrives(t, 65534)
	pattern := filepath.Join(drives, "d{1...4}")
	first := startChild(t, "nobody", "127.0.0.1:0", pattern)
	if first.endpoint == "" {
		t.Fatalf("the first start failed:\n%s", first.out.String())
	}
	ctx := context.Background()
	client := s3Client(first.endpoint)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("left out "), 40_000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kept"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	first.cmd.Process.Signal(syscall.SIGTERM)
	<-first.exited
	if err := os.Rename(filepath.Join(drives, "d2"), filepath.Join(drives, "d2.unmounted")); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "nobody", "127.0.0.1:0", pattern)
	if c.endpoint == "" {
		t.Fatalf("the server did not start without d2:\n%s", c.out.String())
	}
	if !strings.Contains(c.out.String(), "dropped privileges") || !strings.Contains(c.out.String(), "left-out drive not checked for the run user") {
		t.Errorf("log:\n%s", c.out.String())
	}
	if b := getObject(t, s3Client(c.endpoint), "kept", "k"); !bytes.Equal(b, body) {
		t.Fatalf("GET without d2: %d bytes", len(b))
	}
}
