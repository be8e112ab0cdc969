package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// commitGate holds the drives' metadata commits while shut and fails them while failing
// is set: the core's background commits can be held, or made to fail.
type commitGate struct {
	mu      sync.Mutex
	shutC   chan struct{} // nil: open
	held    atomic.Int64  // drive commits waiting at the gate
	failing atomic.Bool
}

func (g *commitGate) failpoint(step string) error {
	if step != "commit:rename-meta" {
		return nil
	}
	if g.failing.Load() {
		return errors.New("injected: drive offline")
	}
	g.mu.Lock()
	c := g.shutC
	g.mu.Unlock()
	if c != nil {
		g.held.Add(1)
		<-c
		g.held.Add(-1)
	}
	return nil
}

// fillerBucket holds the puts that keep the background commits busy: in a directory of
// its own, so that their change events (not the mount's own) do not wait for the kernel
// lock of the directory that the operation under test holds (notifyWait).
const fillerBucket = "fillers"

// wbSetup mounts a 4-drive deployment (its commits behind g) in fsync mode, the flusher
// slowed to an hour, with testBucket and fillerBucket made.
func wbSetup(t *testing.T) (*deploy.Deployment, string, *commitGate) {
	t.Helper()
	g := &commitGate{}
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives:       []string{filepath.Join(t.TempDir(), "d{1...4}")},
		Parity:       -1,
		DriveOptions: local.Options{Failpoint: g.failpoint},
	})
	must(t, "deploy.Open", err)
	must(t, "MakeBucket", d.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	must(t, "MakeBucket", d.MakeBucket(context.Background(), fillerBucket, objstore.MakeBucketOptions{}))
	mnt := mountLayer(t, d, Options{Durability: DurableFsync, SyncDrives: d.SyncDrives, FlushInterval: time.Hour})
	return d, filepath.Join(mnt, testBucket), g
}

// busy drains d's write-behind, then shuts g and keeps every background commit of d busy
// (pool.BehindCommits puts of other keys held at the drives), so that a put taken next
// stays pending, its commit not started. The returned function lets the commits go.
func busy(t *testing.T, d *deploy.Deployment, g *commitGate, name string) (open func()) {
	t.Helper()
	// First every put taken before (a file closed, a mkdir) is committed: one still in
	// flight when the gate shuts would hold one of the commits the fillers must take.
	must(t, "FlushAll", d.FlushAll(context.Background()))
	c := make(chan struct{})
	g.mu.Lock()
	g.shutC = c
	g.mu.Unlock()
	open = sync.OnceFunc(func() {
		g.mu.Lock()
		g.shutC = nil
		g.mu.Unlock()
		close(c)
	})
	t.Cleanup(open)
	for i := range pool.BehindCommits {
		_, ok, err := d.PutBehind(context.Background(), fillerBucket, fmt.Sprintf("filler-%s-%d", name, i), []byte("x"), objstore.PutOptions{})
		if err != nil || !ok {
			t.Fatalf("PutBehind: %v, %v", ok, err)
		}
	}
	for i := 0; g.held.Load() < 4*pool.BehindCommits; i++ { // each commit waits on 4 drives
		if i == 1000 {
			t.Fatalf("%d drive commits held after 10 s", g.held.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return open
}

// waitFor runs op in the background until it waits for the core's pending puts, then
// opens the gate and returns op's error.
func waitFor(t *testing.T, d *deploy.Deployment, open func(), op func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	for i := 0; d.WriteBehindStats().Waiting == 0; i++ {
		if i == 1000 {
			open()
			t.Fatalf("the operation did not wait for the pending puts in 10 s (it returned %v)", <-done)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the operation returned (%v) while the commit it waits for was held", err)
	default:
	}
	open()
	return <-done
}

// returnsWhileHeld runs op, which must return without waiting for the held commits; if it
// has not after 10 s, the commits are let go and the test fails, naming what.
func returnsWhileHeld(t *testing.T, open func(), what string, op func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		must(t, what, err)
	case <-time.After(10 * time.Second):
		open()
		t.Fatalf("%s waited for the held commits (returned %v)", what, <-done)
	}
}

// committedInfo lets the held commits go once a stat of key through the core waits for
// them (waitFor), and returns what the stat found.
func committedInfo(t *testing.T, d *deploy.Deployment, open func(), key string) objstore.ObjectInfo {
	t.Helper()
	var info objstore.ObjectInfo
	must(t, "StatObject", waitFor(t, d, open, func() error {
		var err error
		info, err = d.StatObject(context.Background(), testBucket, key)
		return err
	}))
	return info
}

// In fsync mode the close of a small file hands it to the core's write-behind: the file is
// visible to S3 (the layer) at once, and renames, unlinks and overwrites of it, through the
// mount or through S3, land after it.
func TestFsyncModeWriteBehind(t *testing.T) {
	d, dir, g := wbSetup(t)
	ctx := context.Background()
	before := d.WriteBehindStats().Taken
	for i := range 10 {
		must(t, "write", os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), pattern(1000+i, byte(i)), 0o644))
	}
	if got := d.WriteBehindStats().Taken - before; got != 10 {
		t.Fatalf("%d of 10 closes were taken by the write-behind", got)
	}
	for i := range 10 {
		if b, _ := getObject(t, d, fmt.Sprintf("f%d", i)); !bytes.Equal(b, pattern(1000+i, byte(i))) {
			t.Fatalf("f%d: the core has %d bytes", i, len(b))
		}
	}

	t.Run("rename through the mount", func(t *testing.T) {
		open := busy(t, d, g, "rename")
		must(t, "write", os.WriteFile(filepath.Join(dir, "a"), []byte("renamed"), 0o644))
		must(t, "rename", waitFor(t, d, open, func() error { return os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")) }))
		if _, err := d.StatObject(ctx, testBucket, "a"); !errors.Is(err, objstore.ErrObjectNotFound) {
			t.Fatalf("the rename's source: %v", err)
		}
		if b, _ := getObject(t, d, "b"); string(b) != "renamed" {
			t.Fatalf("the rename's destination holds %q", b)
		}
	})
	t.Run("unlink through the mount", func(t *testing.T) {
		open := busy(t, d, g, "unlink")
		must(t, "write", os.WriteFile(filepath.Join(dir, "u"), []byte("gone"), 0o644))
		must(t, "unlink", waitFor(t, d, open, func() error { return os.Remove(filepath.Join(dir, "u")) }))
		if _, err := d.StatObject(ctx, testBucket, "u"); !errors.Is(err, objstore.ErrObjectNotFound) {
			t.Fatalf("an unlinked pending file: the core says %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "u")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("an unlinked pending file: stat says %v", err)
		}
	})
	t.Run("overwrite through S3", func(t *testing.T) {
		open := busy(t, d, g, "s3put")
		must(t, "write", os.WriteFile(filepath.Join(dir, "o"), []byte("mount"), 0o644))
		must(t, "put", waitFor(t, d, open, func() error {
			_, err := d.PutObject(ctx, testBucket, "o", bytes.NewReader([]byte("from s3")), 7, objstore.PutOptions{})
			return err
		}))
		if b, _ := getObject(t, d, "o"); string(b) != "from s3" {
			t.Fatalf("the core holds %q after the later S3 put", b)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "o")); err != nil || string(b) != "from s3" {
			t.Fatalf("the mount reads %q, %v after the later S3 put", b, err)
		}
	})
	t.Run("overwrite through the mount", func(t *testing.T) {
		open := busy(t, d, g, "overwrite")
		must(t, "write", os.WriteFile(filepath.Join(dir, "w"), []byte("first"), 0o644))
		must(t, "write", os.WriteFile(filepath.Join(dir, "w"), []byte("second"), 0o644))
		open()
		must(t, "FlushAll", d.FlushAll(ctx))
		if b, _ := getObject(t, d, "w"); string(b) != "second" {
			t.Fatalf("two closes in a row: the core holds %q", b)
		}
	})
}

// An fsync returns only once the file's pending put is committed (and the drives synced).
func TestFsyncModeFsyncWaitsForWriteBehind(t *testing.T) {
	d, dir, g := wbSetup(t)
	open := busy(t, d, g, "fsync")
	f, err := os.Create(filepath.Join(dir, "s"))
	must(t, "create", err)
	defer f.Close()
	_, err = f.WriteString("synced")
	must(t, "write", err)
	// The fsync's commit is taken by the write-behind, and the fsync waits for it.
	must(t, "fsync", waitFor(t, d, open, f.Sync))
	if b, _ := getObject(t, d, "s"); string(b) != "synced" {
		t.Fatalf("after fsync the core holds %q", b)
	}
}

// A background commit that fails is reported as EIO by the file's next fsync (once), as a
// local file system reports a writeback error; the file is the committed object again.
func TestFsyncModeWriteBehindFailureIsEIO(t *testing.T) {
	d, dir, g := wbSetup(t)
	p := filepath.Join(dir, "f")
	must(t, "write", os.WriteFile(p, []byte("old"), 0o644))
	must(t, "FlushAll", d.FlushAll(context.Background()))
	g.failing.Store(true)
	must(t, "overwrite", os.WriteFile(p, []byte("lost"), 0o644))
	must(t, "FlushAll", d.FlushAll(context.Background()))
	g.failing.Store(false)
	if s := d.WriteBehindStats(); s.Failed != 1 {
		t.Fatalf("write-behind stats after the failed commit: %+v", s)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, "open", err)
	defer f.Close()
	wantErrno(t, "fsync after a failed background commit", f.Sync(), syscall.EIO)
	must(t, "the second fsync", f.Sync())
	if b, _ := getObject(t, d, "f"); string(b) != "old" {
		t.Fatalf("the core holds %q, want the old content", b)
	}
}

// In fsync mode a directory's attribute changes (tar sets every directory's times and mode
// at its end) are taken by the write-behind: they return while the drives' commits are
// held, and S3 sees the new attributes after them, waiting for the commits.
func TestFsyncModeDirAttrsWriteBehind(t *testing.T) {
	d, dir, g := wbSetup(t)
	sub := filepath.Join(dir, "sub")
	must(t, "mkdir", os.Mkdir(sub, 0o700))
	open := busy(t, d, g, "dirattrs")
	before := d.WriteBehindStats().Taken
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	returnsWhileHeld(t, open, "chtimes and chmod of a directory", func() error {
		if err := os.Chtimes(sub, mtime, mtime); err != nil {
			return err
		}
		return os.Chmod(sub, 0o755)
	})
	if got := d.WriteBehindStats().Taken - before; got != 2 {
		t.Fatalf("%d of 2 directory attribute changes were taken by the write-behind", got)
	}
	info := committedInfo(t, d, open, "sub/")
	if a := attrsFromInfo(info, true, owner{}); a.mode&0o7777 != 0o755 || !a.mtime.Equal(mtime) {
		t.Fatalf("the marker after the commits: mode %o, mtime %v; want 755, %v", a.mode&0o7777, a.mtime, mtime)
	}
	fi, err := os.Stat(sub)
	must(t, "stat", err)
	if fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(mtime) || !fi.IsDir() {
		t.Fatalf("the mount shows %v %v", fi.Mode(), fi.ModTime())
	}
}

// In fsync mode a mkdir hands its marker to the write-behind: it returns while the commits
// are held, the directory is there at once for S3 (a stat waits for the commit), and a
// second mkdir of the name is EEXIST.
func TestFsyncModeMkdirWriteBehind(t *testing.T) {
	d, dir, g := wbSetup(t)
	open := busy(t, d, g, "mkdir")
	before := d.WriteBehindStats().Taken
	sub := filepath.Join(dir, "sub")
	returnsWhileHeld(t, open, "mkdir", func() error { return os.Mkdir(sub, 0o750) })
	if got := d.WriteBehindStats().Taken - before; got != 1 {
		t.Fatalf("%d puts taken by the write-behind for a mkdir, want 1", got)
	}
	info := committedInfo(t, d, open, "sub/")
	if a := attrsFromInfo(info, true, owner{}); a.mode != syscall.S_IFDIR|0o750 {
		t.Fatalf("the committed marker has mode %o, want dir 750", a.mode)
	}
	if err := os.Mkdir(sub, 0o750); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("a second mkdir: %v, want EEXIST", err)
	}
	fi, err := os.Stat(sub)
	must(t, "stat", err)
	if !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Fatalf("the mount shows %v", fi.Mode())
	}
	must(t, "write into it", os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o644))
	if err := os.Remove(sub); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a directory holding a file: %v, want ENOTEMPTY", err)
	}
}
