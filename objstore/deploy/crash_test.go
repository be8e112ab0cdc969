package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// The crash test runs a put in a child process (this test binary, re-executed) that dies
// with os.Exit at one step of the drives' commit path, after a given number of drives passed
// that step, then reopens the drives and checks that the key holds the old object or the
// new one, complete, never anything else.

const crashEnv = "FLASHSTOR_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

func crashChild() int {
	if os.Getenv("CRASH_OP") == "rename" {
		return renameCrashChild()
	}
	dir, step := os.Getenv("CRASH_DIR"), os.Getenv("CRASH_STEP")
	after, _ := strconv.Atoi(os.Getenv("CRASH_AFTER"))
	size, _ := strconv.Atoi(os.Getenv("CRASH_SIZE"))
	var passed atomic.Int32
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")},
		Parity: 2,
		DriveOptions: local.Options{Failpoint: func(s string) error {
			if s == step && int(passed.Add(1)) > after {
				os.Exit(3) // the crash: no deferred cleanup, no more writes
			}
			return nil
		}, RedoLog: os.Getenv("CRASH_REDO") != "", RedoLogSize: crashRedoLogSize},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	content := randomBytes(size, 2)
	if _, err := d.PutObject(context.Background(), "crash", "key", bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "put:", err)
		return 2
	}
	return 0
}

// crashRedoLogSize is the drives' redo log in the crash tests that use one: small, quick
// to make.
const crashRedoLogSize = 256 << 10

func TestCrashDuringPut(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix skipped in -short")
	}
	steps := []string{"create:sync", "commit:rename-data", "commit:write-meta", "commit:rename-meta"}
	for _, size := range []int{1000, 2<<20 + 5, 9<<20 + 5} { // inline, buffered shards, direct shards
		for _, step := range steps {
			for after := 0; after <= 4; after++ {
				t.Run(fmt.Sprintf("%d/%s/after%d", size, step, after), func(t *testing.T) {
					crashCase(t, size, step, after, false)
				})
			}
		}
	}
	// With the drives' redo logs, a small object's commit is a record, its metadata file
	// then waiting in the log's backlog: a crash after the record (at commit:logged) redoes
	// it at the next start. A large object's commit does not use the log.
	for _, size := range []int{1000, 2<<20 + 5} {
		for _, step := range append(steps, "commit:logged") {
			for after := 0; after <= 4; after += 2 {
				t.Run(fmt.Sprintf("redo/%d/%s/after%d", size, step, after), func(t *testing.T) {
					crashCase(t, size, step, after, true)
				})
			}
		}
	}
}

func crashCase(t *testing.T, size int, step string, after int, redo bool) {
	dir := t.TempDir()
	cfg := deploy.Config{Drives: []string{filepath.Join(dir, "d{1...4}")}, Parity: 2,
		DriveOptions: local.Options{RedoLog: redo, RedoLogSize: crashRedoLogSize}}
	d, err := deploy.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := d.MakeBucket(c, "crash", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	old := randomBytes(size+1, 1)
	if _, err := d.PutObject(c, "crash", "key", bytes.NewReader(old), int64(len(old)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d.Close() // the child opens the drives: a redo log's lock would keep it out
	ctx, cancel := context.WithTimeout(c, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"=1", "CRASH_DIR="+dir, "CRASH_STEP="+step,
		"CRASH_AFTER="+strconv.Itoa(after), "CRASH_SIZE="+strconv.Itoa(size))
	if redo {
		cmd.Env = append(cmd.Env, "CRASH_REDO=1")
	}
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if code != 0 && code != 3 {
		t.Fatalf("child failed (%v, exit %d): %s", err, code, out)
	}
	inline := size <= 128<<10
	// An inline object's commit renames no data; through the redo log it writes no staged
	// file nor renames one (its metadata file waits in the backlog); only a commit through
	// the log is logged.
	offPath := inline && step == "commit:rename-data" ||
		redo && inline && (step == "create:sync" || step == "commit:rename-meta") ||
		!(redo && inline) && step == "commit:logged"
	if after == 0 && code != 3 && !offPath {
		t.Fatalf("the child never reached step %s: the failpoint is not on the commit path", step)
	}
	newContent := randomBytes(size, 2)

	d, err = deploy.Open(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	got := readKey(t, d)
	switch {
	case bytes.Equal(got, old):
		if code == 0 {
			t.Fatal("the put returned success, yet the old object is what reads back")
		}
	case bytes.Equal(got, newContent):
	default:
		t.Fatalf("after a crash at %s (after %d drives), the key reads %d bytes that are neither the old nor the new object", step, after, len(got))
	}
	for _, s := range d.Sets() {
		if err := s.HealAll(c, true, func(erasureset.HealResult) {}); err != nil {
			t.Fatalf("heal after the crash: %v", err)
		}
	}
	if again := readKey(t, d); !bytes.Equal(again, got) {
		t.Fatal("heal changed which version the key reads")
	}
}

func readKey(t *testing.T, d *deploy.Deployment) []byte {
	t.Helper()
	return readObject(t, d, "key")
}

// readObject reads key of the bucket "crash" whole, failing the test if it cannot.
func readObject(t *testing.T, d *deploy.Deployment, key string) []byte {
	t.Helper()
	h, err := d.OpenObject(context.Background(), "crash", key)
	if err != nil {
		t.Fatalf("after the crash %s cannot be opened: %v", key, err)
	}
	defer h.Close()
	b, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	if err != nil {
		t.Fatalf("after the crash %s cannot be read: %v", key, err)
	}
	return b
}
