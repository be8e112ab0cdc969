package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/s3frontend"
)

// childEnv names the environment variable that turns a process into a benchmark server:
// its value is the JSON childConfig.
const childEnv = "FLASHSTOR_BENCH_SERVER"

// childConfig is what the parent tells a server process.
type childConfig struct {
	Transport string
	Drives    []string
	AccessKey string
	SecretKey string
	Region    string
}

// childStats is a server process's answer to "stats" (after two GCs) and "mallocs" (no GC).
type childStats struct {
	HeapInuse    uint64 // bytes
	StackInuse   uint64 // bytes
	Mallocs      uint64 // cumulative count
	RSS          int64  // bytes
	PooledBlocks int64  // idle 64 KiB blocks the epoll transport keeps for reuse
}

// MaybeRunChild runs the benchmark server and exits when the process was started as one by
// Run; otherwise it returns at once. A binary that calls Run must call MaybeRunChild first
// thing in main (tests: in TestMain), because Run starts each server as a child process
// of the same executable, so that the server's memory is measured apart from the load
// generator's.
func MaybeRunChild() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	if err := runChild(spec, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild serves S3 on a loopback port, prints "ADDR host:port", then answers commands
// read from in, one per line, until "quit" or the end of in.
func runChild(spec string, in io.Reader, out io.Writer) error {
	var cfg childConfig
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dep, err := deploy.Open(context.Background(), deploy.Config{Drives: cfg.Drives, Parity: -1, Log: log})
	if err != nil {
		return err
	}
	defer dep.Close()
	h, err := s3frontend.New(s3frontend.Config{Layer: dep, Credentials: map[string]string{cfg.AccessKey: cfg.SecretKey}, Region: cfg.Region, Log: log})
	if err != nil {
		return err
	}
	srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: h, Transport: cfg.Transport})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "ADDR %s\n", ln.Addr())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd := strings.TrimSpace(sc.Text())
		if cmd == "quit" {
			break
		}
		var st childStats
		if cmd == "stats" {
			runtime.GC()
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st.HeapInuse, st.StackInuse, st.Mallocs = ms.HeapInuse, ms.StackInuse, ms.Mallocs
		st.RSS, _ = readRSS(os.Getpid())
		if s := srv.Stats(); s != nil {
			_, st.PooledBlocks = s.ArenaBlocks()
		}
		b, _ := json.Marshal(st)
		fmt.Fprintf(out, "%s\n", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	return <-served
}

// child is a running server process.
type child struct {
	cfg  childConfig
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

// startChild starts a server process of transport over drives.
func startChild(ctx context.Context, cfg childConfig) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, _ := json.Marshal(cfg)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cfg: cfg, cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	line, err := c.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		c.stop()
		return nil, fmt.Errorf("bench server did not start: %q %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c, nil
}

// transport returns the server's transport.
func (c *child) transport() string { return c.cfg.Transport }

// stats asks the server for its memory statistics; gc first collects garbage twice.
func (c *child) stats(gc bool) (childStats, error) {
	cmd := "mallocs\n"
	if gc {
		cmd = "stats\n"
	}
	if _, err := io.WriteString(c.in, cmd); err != nil {
		return childStats{}, err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return childStats{}, err
	}
	var st childStats
	err = json.Unmarshal([]byte(line), &st)
	return st, err
}

// stop ends the server: "quit", then a kill if it has not exited in 10 s.
func (c *child) stop() error {
	io.WriteString(c.in, "quit\n")
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
		return errors.New("bench server did not exit; killed")
	}
}

// readRSS returns the resident set size of process pid, from /proc.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
