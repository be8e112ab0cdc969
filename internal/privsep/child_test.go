//go:build linux

package privsep

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
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the child process that TestDropInChild starts.
const (
	envChild  = "FLASHSTOR_PRIVSEP_CHILD"  // set: TestPrivsepChild runs
	envDirs   = "FLASHSTOR_PRIVSEP_DIRS"   // drives, separated by ':'
	envSecret = "FLASHSTOR_PRIVSEP_SECRET" // a file only root may read
)

// childReport is what the child observed after Drop, printed as one JSON line.
type childReport struct {
	DropErr              string
	Result               Result
	UID, EUID, GID, EGID int
	Groups               []int
	Threads              []ThreadStatus
	Bind80Err            string // "" when binding 127.0.0.1:80 succeeded
	SecretErr            string // "" when the root-only file could be opened
	Setuid0Err           string // "" when setuid(0) succeeded
	HTTPStatus           int
	HTTPBody             string
}

const reportPrefix = "PRIVSEP-REPORT "

// TestPrivsepChild is the child's side: it binds a loopback port and serves on it, drops
// privileges as its environment says, then reports what it can and cannot do.
func TestPrivsepChild(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("the child process of TestDropInChild")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // bound as root, before the drop
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served by uid %d", os.Getuid())
	})}
	go srv.Serve(ln)
	defer srv.Close()

	var rep childReport
	rep.Result, err = Drop(FromEnv(strings.Split(os.Getenv(envDirs), ":")...))
	if err != nil {
		rep.DropErr = err.Error()
	}
	rep.UID, rep.EUID, rep.GID, rep.EGID = os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid()
	rep.Groups, _ = syscall.Getgroups()
	rep.Threads, _ = Threads()
	if l, err := net.Listen("tcp", "127.0.0.1:80"); err != nil {
		rep.Bind80Err = err.Error()
	} else {
		l.Close()
	}
	if f, err := os.Open(os.Getenv(envSecret)); err != nil {
		rep.SecretErr = err.Error()
	} else {
		f.Close()
	}
	if err := syscall.Setuid(0); err != nil {
		rep.Setuid0Err = err.Error()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Get("http://" + ln.Addr().String() + "/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rep.HTTPStatus, rep.HTTPBody = resp.StatusCode, string(body)
	} else {
		rep.HTTPBody = err.Error()
	}
	line, _ := json.Marshal(rep)
	fmt.Printf("\n%s%s\n", reportPrefix, line)
}

// runChild runs the test binary bin as a child process that drops to user:group with the
// given drives, and returns its report.
func runChild(t *testing.T, bin, user, group, secret string, dirs []string) childReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestPrivsepChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"=1", EnvUser+"="+user, EnvGroup+"="+group,
		envDirs+"="+strings.Join(dirs, ":"), envSecret+"="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), reportPrefix); ok {
			var rep childReport
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Fatalf("child report: %v: %s", err, line)
			}
			return rep
		}
	}
	t.Fatalf("child printed no report:\n%s", out)
	return childReport{}
}

// port80Privileged reports whether binding port 80 needs privileges on this machine.
func port80Privileged(t *testing.T) bool {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return true
	}
	var start int
	fmt.Sscan(string(data), &start)
	return start > 80
}

// TestDropInChild starts this test binary again as a child that drops from root to
// nobody/nogroup and checks, from the child's report, its ids on every thread, that it
// can no longer do what root can, and that it still serves on the port it bound before.
func TestDropInChild(t *testing.T) {
	requireRoot(t)
	base := traversableTempDir(t)
	good := mkdirOwned(t, filepath.Join(base, "drive1"), 0o750, nobody, nobody)
	bad := mkdirOwned(t, filepath.Join(base, "drive2"), 0o755, 0, 0)
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	checkDropped := func(t *testing.T, rep childReport) {
		t.Helper()
		if rep.DropErr != "" {
			t.Fatalf("Drop failed: %s", rep.DropErr)
		}
		if !rep.Result.Dropped || rep.Result.UID != nobody || rep.Result.GID != nobody || rep.Result.Threads == 0 {
			t.Errorf("Result = %+v", rep.Result)
		}
		if rep.UID != nobody || rep.EUID != nobody || rep.GID != nobody || rep.EGID != nobody || len(rep.Groups) != 0 {
			t.Errorf("ids after Drop: uid %d euid %d gid %d egid %d groups %v", rep.UID, rep.EUID, rep.GID, rep.EGID, rep.Groups)
		}
		if len(rep.Threads) == 0 {
			t.Error("no thread status read")
		}
		for i, th := range rep.Threads {
			if err := th.check(ident{uid: nobody, gid: nobody}); err != nil {
				t.Errorf("thread %d: %v", i, err)
			}
		}
		if port80Privileged(t) && !strings.Contains(rep.Bind80Err, "permission denied") {
			t.Errorf("bind 127.0.0.1:80 after Drop: %q, want permission denied", rep.Bind80Err)
		}
		if !strings.Contains(rep.SecretErr, "permission denied") {
			t.Errorf("open root-only file after Drop: %q, want permission denied", rep.SecretErr)
		}
		if !strings.Contains(rep.Setuid0Err, "operation not permitted") {
			t.Errorf("setuid(0) after Drop: %q, want operation not permitted", rep.Setuid0Err)
		}
		if want := fmt.Sprintf("served by uid %d", nobody); rep.HTTPStatus != http.StatusOK || rep.HTTPBody != want {
			t.Errorf("request after Drop: %d %q, want 200 %q", rep.HTTPStatus, rep.HTTPBody, want)
		}
	}

	t.Run("names", func(t *testing.T) {
		checkDropped(t, runChild(t, self, "nobody", "nogroup", secret, []string{good}))
	})
	t.Run("numeric ids", func(t *testing.T) {
		checkDropped(t, runChild(t, self, "65534", "65534", secret, []string{good}))
	})
	t.Run("primary group", func(t *testing.T) {
		checkDropped(t, runChild(t, self, "nobody", "", secret, []string{good}))
	})
	t.Run("drive not writable", func(t *testing.T) {
		rep := runChild(t, self, "nobody", "nogroup", secret, []string{good, bad})
		if !strings.Contains(rep.DropErr, bad) || !strings.Contains(rep.DropErr, "not writable") {
			t.Fatalf("Drop error %q, want one naming %s", rep.DropErr, bad)
		}
		if rep.UID != 0 || rep.EUID != 0 || rep.Setuid0Err != "" {
			t.Fatalf("a failed check changed the process: uid %d euid %d", rep.UID, rep.EUID)
		}
	})
	t.Run("without cgo", func(t *testing.T) {
		// The other subtests run a cgo binary (the race detector needs cgo), where the C
		// constructor sets no_new_privs; this one checks AllThreadsSyscall's path.
		if testing.Short() {
			t.Skip("builds the test binary again")
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("no go command to build a cgo-free binary")
		}
		bin := filepath.Join(t.TempDir(), "privsep-nocgo.test")
		build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go test -c: %v\n%s", err, out)
		}
		if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		checkDropped(t, runChild(t, bin, "nobody", "nogroup", secret, []string{good}))
	})
}
