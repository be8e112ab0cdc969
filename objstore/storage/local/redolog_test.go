package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// openRedo opens the drive at dir with a redo log of size bytes (small: tests fill it) and
// closes the log's descriptor at the test's end.
func openRedo(t *testing.T, dir string, size int64) *Drive {
	t.Helper()
	d, err := Open(dir, Options{RedoLog: true, RedoLogSize: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.redo.close() })
	return d
}

// crash leaves the drive as a machine crash may have left its tree before anything was
// written back: every metadata file of keys is empty (delayed allocation commits a rename
// before the data) or missing. The drive's log stays as it is on the disk (no checkpoint).
func crash(t *testing.T, d *Drive, bucket string, keys []string) {
	t.Helper()
	d.redo.abandon()
	for i, k := range keys {
		p, err := d.objectPath(bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			err = os.Truncate(p, 0)
		} else {
			err = os.Remove(p)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// abandon closes the log's descriptor as a crash would: no checkpoint. It leaves its
// group first, whose rounds would otherwise use the closed descriptor's number.
func (l *redoLog) abandon() {
	if l.group != nil {
		l.group.leave(l)
	}
	l.backlog.clear()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		unix.Close(l.fd)
	}
}

// openRedoWithKey is openRedo with a bucket "bkt" holding the key "k", committed through the
// log (redoContent("k", 1)).
func openRedoWithKey(t *testing.T, dir string) *Drive {
	t.Helper()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitObject(context.Background(), "bkt", "k", redoContent("k", 1), "", ""); err != nil {
		t.Fatal(err)
	}
	return d
}

func redoContent(key string, version int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s v%d;", key, version)), 20+version)
}

func TestRedoLogRedoesCommits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("dir%d/key%d", i%3, i))
	}
	for v := 1; v <= 2; v++ { // every key twice: the last record wins
		for _, k := range keys {
			if err := d.CommitObject(ctx, "bkt", k, redoContent(k, v), "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	crash(t, d, "bkt", keys)

	d = openRedo(t, dir, 1<<20)
	for _, k := range keys {
		got, err := d.ReadMeta(ctx, "bkt", k)
		if err != nil || !bytes.Equal(got, redoContent(k, 2)) {
			t.Fatalf("%s after the redo: %q, %v; want its second commit", k, got, err)
		}
	}
	// The redo started a new generation: nothing of it is redone again.
	b, err := os.ReadFile(filepath.Join(dir, storage.SysVolume, redoLogFile))
	if err != nil {
		t.Fatal(err)
	}
	if recs := parseRedoLog(b); len(recs) != 0 {
		t.Fatalf("after the redo the log still holds %d records of its generation", len(recs))
	}
}

// TestRedoLogSettlesBeforeOtherChanges: a durable change of a logged path that is not a
// logged commit checkpoints first, or a redo after a crash would bring the logged version
// back over it.
func TestRedoLogSettlesBeforeOtherChanges(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(d *Drive) error
		gone   []string // keys that must not exist after the crash and the redo
	}{
		{"DeleteObject", func(d *Drive) error { return d.DeleteObject(ctx, "bkt", "k") }, []string{"k"}},
		{"RenameObject", func(d *Drive) error { return d.RenameObject(ctx, "bkt", "k", "k2") }, []string{"k"}},
		{"DeleteVolume", func(d *Drive) error { return d.DeleteVolume(ctx, "bkt", true) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openRedoWithKey(t, dir)
			if err := tc.change(d); err != nil {
				t.Fatal(err)
			}
			crash(t, d, "bkt", nil)
			d = openRedo(t, dir, 1<<20)
			for _, k := range tc.gone {
				if got, err := d.ReadMeta(ctx, "bkt", k); !errors.Is(err, storage.ErrFileNotFound) {
					t.Fatalf("%s after %s, a crash and the redo: %q, %v; want it gone", k, tc.name, got, err)
				}
			}
			if tc.name == "DeleteVolume" {
				if _, err := os.Stat(filepath.Join(dir, "bkt")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the deleted bucket came back: %v", err)
				}
			}
		})
	}
}

// TestRedoLogFullAndConcurrent: commits from several goroutines, with SyncFileSystem among
// them, fill a small log many times over; each key ends with its last commit, and the
// redo after a crash restores every commit of the last generation.
func TestRedoLogFullAndConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const size = 16 * redoBlock // about 15 records a generation
	d := openRedo(t, dir, size)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 6, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for v := 1; v <= rounds; v++ {
				k := fmt.Sprintf("w%d/k%d", w, v%7)
				if err := d.CommitObject(ctx, "bkt", k, redoContent(k, v), "", ""); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			if err := d.SyncFileSystem(ctx); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for w := range writers {
		for v := 1; v <= rounds; v++ {
			k := fmt.Sprintf("w%d/k%d", w, v%7)
			want[k] = redoContent(k, v)
		}
	}
	check := func(when string) {
		t.Helper()
		for k, w := range want {
			got, err := d.ReadMeta(ctx, "bkt", k)
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("%s: %s is %q, %v; want its last commit", when, k, got, err)
			}
		}
	}
	check("after the commits")

	// The crash loses the tree's copy of what the last generation logged; the redo
	// restores it.
	b, err := os.ReadFile(filepath.Join(dir, storage.SysVolume, redoLogFile))
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, r := range parseRedoLog(b) {
		lost = append(lost, r.path[len("bkt/"):])
	}
	if len(lost) == 0 {
		t.Fatal("the last generation logged nothing")
	}
	var lostKeys []string
	for k := range want {
		p, _ := d.objectPath("bkt", k)
		for _, l := range lost {
			if p == d.root+"/bkt/"+l {
				lostKeys = append(lostKeys, k)
			}
		}
	}
	if len(lostKeys) != len(lost) {
		t.Fatalf("%d records, %d of them for the test's keys", len(lost), len(lostKeys))
	}
	crash(t, d, "bkt", lostKeys)
	d = openRedo(t, dir, size)
	check("after a crash and the redo")
}

// TestParseRedoLog: only whole records of the header's generation and nonce, for a path in a
// bucket, are redone; the last one of a path.
func TestParseRedoLog(t *testing.T) {
	const gen, nonce = 7, 0x1234
	log := make([]byte, 32*redoBlock)
	copy(log, encodeRedoHeader(gen, nonce))
	off := int64(redoBlock)
	add := func(g, n, seq uint64, rel string, data []byte) int64 {
		at := off
		r := encodeRedoRecord(g, n, seq, rel, data, redoRecordLen(len(rel), len(data)))
		copy(log[off:], r)
		off += int64(len(r))
		return at
	}
	add(gen, nonce, 1, "bkt/a", []byte("a1"))
	torn := add(gen, nonce, 2, "bkt/torn", bytes.Repeat([]byte("t"), 5000))
	add(gen-1, nonce, 3, "bkt/old", []byte("old generation"))
	add(gen, nonce+1, 4, "bkt/forged", []byte("another nonce"))
	add(gen, nonce, 5, "../escape", []byte("outside"))
	add(gen, nonce, 6, ".flashstor.sys/format.json", []byte("system volume"))
	add(gen, nonce, 7, "bkt/a", []byte("a2"))
	add(gen, nonce, 8, "bkt/c", []byte("c1"))
	log[torn+redoRecordFixed+4000] ^= 1 // the torn record's second block never made it

	recs := parseRedoLog(log)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d %s %s", r.seq, r.path, r.data))
	}
	want := []string{"7 bkt/a a2", "8 bkt/c c1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
	if recs := parseRedoLog(log[redoBlock:]); recs != nil {
		t.Fatalf("a log without its header gave %d records", len(recs))
	}
}

func FuzzParseRedoLog(f *testing.F) {
	h := encodeRedoHeader(3, 9)
	rec := encodeRedoRecord(3, 9, 1, "bkt/k", []byte("data"), redoRecordLen(3, 4))
	f.Add(append(append([]byte(nil), h...), rec...))
	f.Add(h)
	f.Add([]byte{})
	rename := redoEntry{path: "bkt/dst", data: []byte("data"), rm: "bkt/src"}
	del := redoEntry{rm: "bkt/gone"}
	f.Add(slices.Concat(h, rec, encodeRedoEntry(3, 9, 2, rename, rename.len()), encodeRedoEntry(3, 9, 3, del, del.len())))
	jput := redoEntry{path: sysRecordPrefix + jid1, data: []byte("intent")}
	jrm := redoEntry{rm: sysRecordPrefix + jid1}
	f.Add(slices.Concat(h, encodeRedoEntry(3, 9, 1, jput, jput.len()), rec, encodeRedoEntry(3, 9, 3, jrm, jrm.len())))
	for _, name := range []string{"redolog-v1.golden", "redolog-v3.golden"} {
		if golden, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(golden)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seen := map[string]bool{}
		for _, r := range parseRedoLog(b) {
			if !(redoPathValid(r.path) || redoSysPathValid(r.path)) || seen[r.path] || (r.remove && r.data != nil) {
				t.Fatalf("record for %q (remove %v, %d bytes of data, seen before %v)", r.path, r.remove, len(r.data), seen[r.path])
			}
			seen[r.path] = true
		}
	})
}

// TestRedoLogRedoneWithoutTheOption: a drive opened without Options.RedoLog still redoes
// the log a crash left, then removes it, so turning the option off loses nothing.
func TestRedoLogRedoneWithoutTheOption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b/c", "d"}
	for _, k := range keys {
		if err := d.CommitObject(ctx, "bkt", k, redoContent(k, 1), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, d, "bkt", keys)
	plain, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if got, err := plain.ReadMeta(ctx, "bkt", k); err != nil || !bytes.Equal(got, redoContent(k, 1)) {
			t.Fatalf("%s, opened without the option after a crash: %q, %v", k, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, storage.SysVolume, redoLogFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the redo log is still there: %v", err)
	}
}

// TestRedoLogLock: while a drive with a redo log is open, opening it again (with or
// without a log) fails instead of redoing and restarting, or removing, the log in use; once
// it is closed the drive opens again.
func TestRedoLogLock(t *testing.T) {
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {RedoLog: true, RedoLogSize: 1 << 20}} {
		if _, err := Open(dir, opts); err == nil || !strings.Contains(err.Error(), "another process") {
			t.Fatalf("Open(%+v) of a drive open with a redo log: %v, want a lock error", opts, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, storage.SysVolume, redoLogFile)); err != nil {
		t.Fatalf("the redo log after the refused opens: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitObject(context.Background(), "bkt", "k", []byte("x"), "", ""); !errors.Is(err, errRedoClosed) {
		t.Fatalf("a commit after Close: %v, want the closed log's error", err)
	}
	openRedo(t, dir, 1<<20)
}

// TestRedoLogCleanClose: closing the drive checkpoints, so that nothing is left to redo.
func TestRedoLogCleanClose(t *testing.T) {
	dir := t.TempDir()
	d := openRedoWithKey(t, dir)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, storage.SysVolume, redoLogFile))
	if err != nil {
		t.Fatal(err)
	}
	if recs := parseRedoLog(b); len(recs) != 0 {
		t.Fatalf("after a clean close the log holds %d records", len(recs))
	}
}

// TestRedoLogFullDrive: a drive with no room for its log opens without one (it used to
// open when full, for reads and heal) instead of being left out.
func TestRedoLogFullDrive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs: root only")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("no tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	first, err := Open(dir, Options{}) // the drive as it was before it filled up
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = filler.Write(make([]byte, 64<<10))
	}
	filler.Close()
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("filling the drive: %v", err)
	}
	d, err := Open(dir, Options{RedoLog: true})
	if err != nil {
		t.Fatalf("opening a full drive with a redo log: %v", err)
	}
	if d.redo != nil {
		t.Fatal("the full drive got a redo log")
	}
	if _, err := os.Stat(filepath.Join(dir, storage.SysVolume, redoLogFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a partial redo log was left: %v", err)
	}
}
