package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The chaos soak runs the server in a child process (this test binary, re-executed), so
// that a kill -9 is real: no deferred call, no unmount, no flush runs in the server.
const envChaosChild = "FLASHSTOR_CHAOS_CHILD" // the server's arguments, separated by newlines

// TestChaosChild is the child's side: it runs "flashstor server" with the arguments of its
// environment until SIGTERM (or SIGKILL).
func TestChaosChild(t *testing.T) {
	args := os.Getenv(envChaosChild)
	if args == "" {
		t.Skip("the server child of TestChaos")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(args, "\n"), os.Stdout, os.Stderr); err != nil {
		fmt.Println("SERVER-ERROR", err)
		os.Exit(3)
	}
}

// chaosServer is the server child of the chaos soak, restarted after every kill.
type chaosServer struct {
	t     *testing.T
	args  []string
	mount string

	mu sync.Mutex
	// cmd and exited are the running child's, nil while none runs. Guarded by mu.
	cmd    *exec.Cmd
	exited chan struct{}
	// client talks to the running child's endpoint. Guarded by mu.
	client *s3.Client
	// log is the output of every child so far, for a failure's message. Guarded by mu.
	log strings.Builder
}

// start runs a new child and waits until it serves (at most 60 s).
func (cs *chaosServer) start() {
	t := cs.t
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChaosChild$")
	cmd.Env = append(os.Environ(), envChaosChild+"="+strings.Join(cs.args, "\n"),
		"FLASHSTORE_ROOT_USER=testadmin", "FLASHSTORE_ROOT_PASSWORD=test-secret-123")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	endpoint := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`S3 endpoint:\s+(http://\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			cs.mu.Lock()
			cs.log.WriteString(sc.Text() + "\n")
			cs.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				endpoint <- m[1]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	cs.mu.Lock()
	cs.cmd, cs.exited = cmd, exited
	cs.mu.Unlock()
	select {
	case e := <-endpoint:
		cs.mu.Lock()
		cs.client = s3Client(e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		cs.mu.Unlock()
	case <-exited:
		t.Fatalf("the server child exited before serving:\n%s", cs.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("the server child did not serve within 60 s:\n%s", cs.output())
	}
}

// pid returns the running child's process id, 0 while none runs.
func (cs *chaosServer) pid() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.cmd == nil {
		return 0
	}
	return cs.cmd.Process.Pid
}

// s3 returns the client of the running child, or nil while none runs.
func (cs *chaosServer) s3() *s3.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.client
}

func (cs *chaosServer) output() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.log.String()
}

// stop ends the running child with sig (SIGKILL or SIGTERM), waits for it (SIGKILL after
// 30 s of SIGTERM) and lazily unmounts what a killed child left mounted.
func (cs *chaosServer) stop(sig syscall.Signal) {
	cs.mu.Lock()
	cmd, exited := cs.cmd, cs.exited
	cs.cmd, cs.exited, cs.client = nil, nil, nil
	cs.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cs.t.Errorf("the server child did not stop within 30 s of %v", sig)
		cmd.Process.Kill()
		<-exited
	}
	if mounted(cs.t, cs.mount) {
		if err := syscall.Unmount(cs.mount, syscall.MNT_DETACH); err != nil {
			cs.t.Errorf("unmounting %s after the child: %v", cs.mount, err)
		}
	}
}
