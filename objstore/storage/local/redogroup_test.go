package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// openGroupedRedo opens n drives with redo logs below dir, sharing commits (one commit
// group: dir is on a journaled ext4), each with bucket "bkt". It skips when they form no
// group.
func openGroupedRedo(t *testing.T, dir string, n int, commits *CommitGroups) []*Drive {
	t.Helper()
	drives := make([]*Drive, n)
	for i := range drives {
		d, err := Open(filepath.Join(dir, fmt.Sprintf("d%d", i+1)), Options{Commits: commits, RedoLog: true, RedoLogSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if commits != nil && d.group == nil {
			t.Skip("the drives form no commit group on this file system")
		}
		if commits != nil && d.redo.group == nil {
			t.Fatal("a drive of a commit group syncs its redo log alone")
		}
		// The machine's load must not end a batch's wait.
		d.batchWait = 30 * time.Second
		if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
			t.Fatal(err)
		}
		drives[i] = d
	}
	return drives
}

// commitOnAll commits key's metadata on every drive at once, in one commit batch when
// batched, as an erasure set does.
func commitOnAll(t *testing.T, drives []*Drive, key string, batched bool) {
	t.Helper()
	ctx := context.Background()
	if batched {
		batch := new(storage.CommitBatch)
		for _, d := range drives {
			batch.Expect(d.CommitDomain())
		}
		ctx = storage.WithCommitBatch(ctx, batch)
	}
	errs := make([]error, len(drives))
	var wg sync.WaitGroup
	for i, d := range drives {
		wg.Go(func() { errs[i] = d.CommitObject(ctx, "bkt", key, redoContent(key, 1), "", "") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// deviceFlushes returns the flush requests the block device holding dir has completed
// (the 17th field of its stat file, Linux 5.5 and later).
func deviceFlushes(t *testing.T, dir string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/stat", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		t.Skipf("no block device statistics: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 17 {
		t.Skip("the kernel does not count flushes")
	}
	n, err := strconv.Atoi(f[15])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The redo logs of the drives of one file system are synced together: one object's commit
// on four drives is one round of the group and one flush of the device, where four logs
// synced one by one flushed it two to four times. Counted by the loop device itself.
func TestRedoLogGroupFlushesOncePerCommit(t *testing.T) {
	fsDir := loopExt4(t)
	grouped := openGroupedRedo(t, filepath.Join(fsDir, "grouped"), 4, NewCommitGroups())
	alone := openGroupedRedo(t, filepath.Join(fsDir, "alone"), 4, nil)
	// The logs' first blocks are filled (a journal commit each) before counting.
	commitOnAll(t, grouped, "warm", true)
	commitOnAll(t, alone, "warm", true)
	const objects = 20
	g := grouped[0].redo.group
	count := func(drives []*Drive) (flushes int, rounds uint64) {
		g.mu.Lock()
		before := g.rounds
		g.mu.Unlock()
		f0 := deviceFlushes(t, fsDir)
		for i := range objects {
			commitOnAll(t, drives, fmt.Sprintf("k%d", i), true)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return deviceFlushes(t, fsDir) - f0, g.rounds - before
	}
	aloneFlushes, _ := count(alone)
	groupedFlushes, rounds := count(grouped)
	t.Logf("%d objects on 4 drives: %d device flushes with the logs synced one by one, %d with the group (%d rounds)",
		objects, aloneFlushes, groupedFlushes, rounds)
	if rounds != objects {
		t.Errorf("%d rounds of the group for %d objects, want one each", rounds, objects)
	}
	// The journal's own periodic commit may add one.
	if groupedFlushes > objects+2 {
		t.Errorf("%d device flushes for %d objects with the group, want one each", groupedFlushes, objects)
	}
	if aloneFlushes < groupedFlushes {
		t.Errorf("logs synced one by one flushed %d times, fewer than the group's %d: the count measures nothing", aloneFlushes, groupedFlushes)
	}
	for _, d := range grouped {
		for i := range objects {
			key := fmt.Sprintf("k%d", i)
			if got, err := d.ReadMeta(context.Background(), "bkt", key); err != nil || string(got) != string(redoContent(key, 1)) {
				t.Fatalf("%s on %s: %q, %v", key, d.root, got, err)
			}
		}
	}
}

// A rename's intent (a journal record) written and removed on four drives of one file
// system, in the journal's commit batch, costs one round of the group each.
func TestRedoLogGroupJournalRecords(t *testing.T) {
	fsDir := loopExt4(t)
	drives := openGroupedRedo(t, fsDir, 4, NewCommitGroups())
	commitOnAll(t, drives, "warm", true)
	g := drives[0].redo.group
	rounds := func() uint64 {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.rounds
	}
	each := func(op func(d *Drive, ctx context.Context) error) uint64 {
		sd := make([]storage.Drive, len(drives))
		for i, d := range drives {
			sd[i] = d
		}
		ctx, _ := storage.BatchDrives(context.Background(), sd, nil)
		before := rounds()
		errs := make([]error, len(drives))
		var wg sync.WaitGroup
		for i, d := range drives {
			wg.Go(func() { errs[i] = op(d, ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return rounds() - before
	}
	p := storage.JournalDir + "/0123456789abcdef0123456789abcdef"
	if n := each(func(d *Drive, ctx context.Context) error {
		return d.WriteFile(ctx, storage.SysVolume, p, []byte("an intent"))
	}); n != 1 {
		t.Errorf("an intent written on 4 drives took %d rounds, want 1", n)
	}
	if n := each(func(d *Drive, ctx context.Context) error {
		return d.Delete(ctx, storage.SysVolume, p, false)
	}); n != 1 {
		t.Errorf("an intent removed from 4 drives took %d rounds, want 1", n)
	}
}

// A log whose sync fails in a round fails alone: the other drives' commits succeed (a
// leader's failed fdatasync sends each other log to its own), and the failed log refuses
// every later commit.
func TestRedoLogGroupFailureStaysWithItsLog(t *testing.T) {
	fsDir := loopExt4(t)
	drives := openGroupedRedo(t, fsDir, 4, NewCommitGroups())
	commitOnAll(t, drives, "warm", true)
	g := drives[0].redo.group
	ctx := context.Background()
	commit := func(d *Drive, key string) error {
		return d.CommitObject(ctx, "bkt", key, redoContent(key, 1), "", "")
	}
	restore := func() {
		g.fdatasync = unix.Fdatasync
		g.syncFileRange = func(fd, flags int) error { return unix.SyncFileRange(fd, 0, 0, flags) }
	}

	// The leader's fdatasync fails: its commit fails, and each other log syncs alone.
	victim := drives[1]
	g.fdatasync = func(fd int) error {
		if fd == victim.redo.fd {
			return syscall.EIO
		}
		return unix.Fdatasync(fd)
	}
	if err := commit(victim, "a"); err == nil {
		t.Fatal("the commit whose log's fdatasync failed returned no error")
	}
	restore()
	for _, d := range []*Drive{drives[0], drives[2], drives[3]} {
		if err := commit(d, "a"); err != nil {
			t.Errorf("%s after another log's fdatasync failed: %v", d.root, err)
		}
	}
	if err := commit(victim, "b"); err == nil {
		t.Error("the log whose fdatasync failed took a later commit")
	}

	// A member's write-out fails in another drive's round: that commit succeeds, the
	// member has failed.
	member := drives[2]
	g.syncFileRange = func(fd, flags int) error {
		if fd == member.redo.fd {
			return syscall.EIO
		}
		return unix.SyncFileRange(fd, 0, 0, flags)
	}
	if err := commit(drives[0], "c"); err != nil {
		t.Errorf("the round's leader failed with a member's error: %v", err)
	}
	restore()
	if err := commit(member, "c"); err == nil {
		t.Error("the log whose write-out failed took a later commit")
	}
	if err := commit(drives[3], "c"); err != nil {
		t.Errorf("%s after the others' failures: %v", drives[3].root, err)
	}
}

// Where ext4 journals file data, a log's write-out joins the journal's running
// transaction, which another log's fdatasync need not commit: the drives keep their commit
// group (the one-commit write) but each log syncs alone. Three ways: the mount option
// data=journal, the file system's default mount option (tune2fs -o journal_data, which
// /proc/self/mountinfo does not show: found by review), and the per-file flag inherited
// from the drive's system directory (chattr +j).
func TestRedoLogGroupNotWhereDataIsJournaled(t *testing.T) {
	for _, c := range []struct {
		name, mount string
		tune        []string
		chattr      bool
	}{
		{"mount option", "loop,data=journal", nil, false},
		{"default mount option", "loop", []string{"-o", "journal_data"}, false},
		{"file flag", "loop", nil, true},
		{"none", "loop", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsDir := loopExt4Mounted(t, c.mount, c.tune)
			commits := NewCommitGroups()
			for i := range 2 {
				root := filepath.Join(fsDir, fmt.Sprintf("d%d", i+1))
				if c.chattr {
					sys := filepath.Join(root, storage.SysVolume)
					if err := os.MkdirAll(sys, 0o700); err != nil {
						t.Fatal(err)
					}
					if out, err := exec.Command("chattr", "+j", sys).CombinedOutput(); err != nil {
						t.Skipf("chattr +j: %v %s", err, out)
					}
				}
				d, err := Open(root, Options{Commits: commits, RedoLog: true, RedoLogSize: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				if d.group == nil {
					t.Skip("no commit group on this file system")
				}
				if grouped := d.redo.group != nil; grouped != (c.name == "none") {
					t.Fatalf("the redo log in its file system's group: %v", grouped)
				}
				if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
					t.Fatal(err)
				}
				if err := d.CommitObject(context.Background(), "bkt", "k", redoContent("k", 1), "", ""); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A drive closed while the others of its group commit leaves the group between two rounds:
// the others' commits go on without an error, and later rounds no longer touch its log.
func TestRedoLogGroupMemberCloses(t *testing.T) {
	fsDir := loopExt4(t)
	drives := openGroupedRedo(t, fsDir, 4, NewCommitGroups())
	g := drives[0].redo.group
	const commits = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*commits)
	for i, d := range drives {
		wg.Go(func() {
			for j := range commits {
				key := fmt.Sprintf("k%d", j)
				if i == 3 && j == commits/4 {
					if err := d.Close(); err != nil {
						errs <- fmt.Errorf("close: %w", err)
					}
					return
				}
				if err := d.CommitObject(context.Background(), "bkt", key, redoContent(key, 1), "", ""); err != nil {
					errs <- fmt.Errorf("%s: %s: %w", d.root, key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.logs) != 3 {
		t.Errorf("%d logs in the group after one of four closed, want 3", len(g.logs))
	}
}

// BenchmarkRedoLogGroupCommit commits small objects on four drives of one file system at
// once, as an erasure set's commit does: "grouped" with the logs' syncs shared (one round,
// one device flush an object), "alone" with each log synced on its own. TMPDIR on a
// journaled ext4 (the group needs it).
func BenchmarkRedoLogGroupCommit(b *testing.B) {
	for _, mode := range []string{"alone", "grouped", "alone", "grouped"} {
		b.Run(mode, func(b *testing.B) {
			var commits *CommitGroups
			if mode == "grouped" {
				commits = NewCommitGroups()
			}
			dir := b.TempDir()
			drives := make([]*Drive, 4)
			for i := range drives {
				d, err := Open(filepath.Join(dir, fmt.Sprintf("d%d", i+1)), Options{Commits: commits, RedoLog: true})
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				if commits != nil && d.redo.group == nil {
					b.Skip("TMPDIR is not on a journaled ext4: no commit group")
				}
				if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
					b.Fatal(err)
				}
				drives[i] = d
			}
			meta := redoContent("k", 1)
			b.ResetTimer()
			for i := range b.N {
				batch := new(storage.CommitBatch)
				for _, d := range drives {
					batch.Expect(d.CommitDomain())
				}
				ctx := storage.WithCommitBatch(context.Background(), batch)
				key := fmt.Sprintf("k%d", i)
				errs := make([]error, len(drives))
				var wg sync.WaitGroup
				for j, d := range drives {
					wg.Go(func() { errs[j] = d.CommitObject(ctx, "bkt", key, meta, "", "") })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
