package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
)

// leaveInTree makes the drive's tree hold, for each key, the metadata file as a crash
// before the writeback of a logged rename or delete may leave it: the bytes given (nil:
// an empty file, as delayed allocation leaves it), parent directories included.
func leaveInTree(t *testing.T, d *Drive, bucket string, files map[string][]byte) {
	t.Helper()
	for k, b := range files {
		p, err := d.objectPath(bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// removeFromTree removes keys' metadata files, as a crash before the writeback of their
// creation leaves them.
func removeFromTree(t *testing.T, d *Drive, bucket string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		p, err := d.objectPath(bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// checkKeys checks that each key of want holds its bytes, and each of gone is not found.
func checkKeys(t *testing.T, d *Drive, want map[string][]byte, gone ...string) {
	t.Helper()
	ctx := context.Background()
	for k, w := range want {
		if got, err := d.ReadMeta(ctx, "bkt", k); err != nil || !bytes.Equal(got, w) {
			t.Errorf("%s: %.40q, %v; want %.40q", k, got, err, w)
		}
	}
	for _, k := range gone {
		if got, err := d.ReadMeta(ctx, "bkt", k); !errors.Is(err, storage.ErrFileNotFound) {
			t.Errorf("%s: %.40q, %v; want it gone", k, got, err)
		}
	}
}

// TestRedoLogRedoesRenamesAndDeletes: logged puts, renames (onto nothing and onto an
// existing key) and deletes, then a crash that wrote nothing of the tree back (the renamed
// and deleted files still there, empty; the renames' destinations missing); the redo makes
// every key what its last operation made it, and removes the directories a delete emptied.
func TestRedoLogRedoesRenamesAndDeletes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	// c is older than the log's generation: a rename onto a key the generation holds a
	// put for checkpoints first (TestRedoLogRenameOntoLoggedPut).
	if err := d.CommitObject(ctx, "bkt", "c", redoContent("c", 1), "", ""); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "d", "sub/e", "f", "g"} {
		if err := d.CommitObject(ctx, "bkt", k, redoContent(k, 1), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []struct{ src, dst string }{
		{"a", "x/a"}, // onto nothing
		{"b", "c"},   // onto an existing key
		{"d", ""},    // deletes
		{"sub/e", ""},
		{"f", "f2"}, // renamed twice
		{"g", "g2"}, // renamed, then deleted
		{"f2", "f3"},
		{"g2", ""},
	} {
		var err error
		if op.dst == "" {
			err = d.DeleteObject(ctx, "bkt", op.src)
		} else {
			err = d.RenameObject(ctx, "bkt", op.src, op.dst)
		}
		if err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	if err := d.CommitObject(ctx, "bkt", "a", redoContent("a", 2), "", ""); err != nil {
		t.Fatal(err) // a put after the rename away: the put wins
	}
	if d.redo.seq != 6+8+1 {
		t.Fatalf("%d records in the generation; want 15: every operation logged, no checkpoint", d.redo.seq)
	}
	d.redo.abandon()
	leaveInTree(t, d, "bkt", map[string][]byte{"a": nil, "b": nil, "c": redoContent("c", 1), "d": nil, "sub/e": nil, "f": nil, "g": nil})
	removeFromTree(t, d, "bkt", "x/a", "f2", "f3", "g2")

	d = openRedo(t, dir, 1<<20)
	checkKeys(t, d, map[string][]byte{
		"a": redoContent("a", 2), "x/a": redoContent("a", 1), "c": redoContent("b", 1), "f3": redoContent("f", 1),
	}, "b", "d", "sub/e", "f", "f2", "g", "g2")
	if _, err := os.Stat(filepath.Join(dir, "bkt", "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory the redone delete emptied: %v; want it removed", err)
	}
}

// TestRedoLogRenamedKeyStaysRenamed: a key put through the log, then renamed, and a crash
// before the rename was written back: without the rename's removal of the source, the
// redo of the source's put brings the object back at its old name.
func TestRedoLogRenamedKeyStaysRenamed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedoWithKey(t, dir)
	if err := d.RenameObject(ctx, "bkt", "k", "k2"); err != nil {
		t.Fatal(err)
	}
	d.redo.abandon()
	leaveInTree(t, d, "bkt", map[string][]byte{"k": nil})
	removeFromTree(t, d, "bkt", "k2")
	d = openRedo(t, dir, 1<<20)
	checkKeys(t, d, map[string][]byte{"k2": redoContent("k", 1)}, "k")
}

// TestRedoLogRenameAtomic: a crash before the rename's record was synced leaves the tree
// as it was (the tree's rename comes after the sync) and the record whole or torn; the
// object is then under exactly one of the two keys: both redone, or neither.
func TestRedoLogRenameAtomic(t *testing.T) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("metadata "), 1000) // a record of three blocks
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			dir := t.TempDir()
			d := openRedo(t, dir, 1<<20)
			if err := d.MakeVolume(ctx, "bkt"); err != nil {
				t.Fatal(err)
			}
			if err := d.CommitObject(ctx, "bkt", "src", big, "", ""); err != nil {
				t.Fatal(err)
			}
			at := d.redo.off
			if err := d.RenameObject(ctx, "bkt", "src", "dst"); err != nil {
				t.Fatal(err)
			}
			if d.redo.off-at != 3*redoBlock {
				t.Fatalf("the rename's record is %d bytes, want 3 blocks", d.redo.off-at)
			}
			d.redo.abandon()
			if torn { // its last block never reached the disk
				f, err := os.OpenFile(filepath.Join(dir, storage.SysVolume, redoLogFile), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.WriteAt(make([]byte, redoBlock), at+2*redoBlock)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			leaveInTree(t, d, "bkt", map[string][]byte{"src": big})
			removeFromTree(t, d, "bkt", "dst")
			d = openRedo(t, dir, 1<<20)
			if torn {
				checkKeys(t, d, map[string][]byte{"src": big}, "dst")
			} else {
				checkKeys(t, d, map[string][]byte{"dst": big}, "src")
			}
		})
	}
}

// TestRedoLogRenameOntoLoggedPut: a rename onto a key the generation holds a put for
// checkpoints first, so that the log never holds that put beside the rename: a binary
// from before version 2 records would redo the put and skip the rename, and lose the
// renamed object. A rename onto a key without a put in the log does not checkpoint.
func TestRedoLogRenameOntoLoggedPut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedoWithKey(t, dir) // k, put
	for _, k := range []string{"a", "b"} {
		if err := d.CommitObject(ctx, "bkt", k, redoContent(k, 1), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	gen := d.redo.gen
	if err := d.RenameObject(ctx, "bkt", "a", "new"); err != nil {
		t.Fatal(err)
	}
	if d.redo.gen != gen {
		t.Fatal("a rename onto a key without a logged put checkpointed")
	}
	if err := d.RenameObject(ctx, "bkt", "b", "k"); err != nil {
		t.Fatal(err)
	}
	if d.redo.gen == gen {
		t.Fatal("a rename onto a key with a logged put did not checkpoint")
	}
	b, err := os.ReadFile(filepath.Join(dir, storage.SysVolume, redoLogFile))
	if err != nil {
		t.Fatal(err)
	}
	kRel := "bkt/" + mustRel(t, d, "k")
	for _, e := range redoEntries(b) {
		if e.rm == "" && e.path == kRel {
			t.Fatalf("the log holds a put of %s beside the rename onto it", kRel)
		}
	}
	checkKeys(t, d, map[string][]byte{"k": redoContent("b", 1), "new": redoContent("a", 1)}, "a", "b")
}

// mustRel returns key's metadata file relative to its bucket's directory.
func mustRel(t *testing.T, d *Drive, key string) string {
	t.Helper()
	p, err := d.objectPath("bkt", key)
	if err != nil {
		t.Fatal(err)
	}
	return p[len(d.root+"/bkt/"):]
}

// redoEntries returns the whole records of the header's generation in the log b, in order.
func redoEntries(b []byte) []redoEntry {
	h, ok := parseRedoHeader(b)
	if !ok {
		return nil
	}
	var es []redoEntry
	for off := redoBlock; off+redoRecordFixed <= len(b); {
		e, _, n, ok := parseRedoEntry(b[off:], h)
		if !ok {
			off += redoBlock
			continue
		}
		es = append(es, e)
		off += n
	}
	return es
}

// TestRedoLogReadsVersion1: a log of version 1 records, as the binaries before version 2
// wrote it (testdata/redolog-v1.golden: puts of bkt/a, bkt/dir/b, bkt/a again), is read
// and redone.
func TestRedoLogReadsVersion1(t *testing.T) {
	golden, err := os.ReadFile("testdata/redolog-v1.golden")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range parseRedoLog(golden) {
		got = append(got, fmt.Sprintf("%d %s %s %v", r.seq, r.path, r.data, r.remove))
	}
	if want := []string{"2 bkt/dir/b b1 false", "3 bkt/a a2 false"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
	if v := binary.LittleEndian.Uint32(golden[redoBlock+4:]); v != 1 {
		t.Fatalf("the golden log's first record is version %d", v)
	}

	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storage.SysVolume, redoLogFile), golden, 0o600); err != nil {
		t.Fatal(err)
	}
	openRedo(t, dir, 1<<20)
	for rel, want := range map[string]string{"bkt/a": "a2", "bkt/dir/b": "b1"} {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(got) != want {
			t.Errorf("%s after the redo of the version 1 log: %q, %v; want %q", rel, got, err, want)
		}
	}
}

// TestParseRedoLogRemovals: version 2 records (renames, deletes) are read beside version 1
// puts, the last record of a path wins whatever its kind, and a malformed one is skipped.
func TestParseRedoLogRemovals(t *testing.T) {
	const gen, nonce = 7, 0x1234
	log := make([]byte, 32*redoBlock)
	copy(log, encodeRedoHeader(gen, nonce))
	off := int64(redoBlock)
	add := func(seq uint64, e redoEntry) {
		copy(log[off:], encodeRedoEntry(gen, nonce, seq, e, e.len()))
		off += e.len()
	}
	add(1, redoEntry{path: "bkt/a", data: []byte("a1")})
	add(2, redoEntry{path: "bkt/b", data: []byte("a1"), rm: "bkt/a"}) // rename a -> b
	add(3, redoEntry{rm: "bkt/c"})                                    // delete c
	add(4, redoEntry{path: "bkt/c", data: []byte("c2")})              // put after the delete
	add(5, redoEntry{rm: "bkt/d"})
	add(6, redoEntry{path: "bkt/x", data: []byte("x"), rm: "bkt/x"})   // onto itself: malformed
	add(7, redoEntry{data: []byte("data"), rm: "bkt/y"})               // a delete with data: malformed
	add(8, redoEntry{path: "bkt/z", data: []byte("z"), rm: "../out"})  // outside: skipped
	add(9, redoEntry{path: "../out", data: []byte("z"), rm: "bkt/z2"}) // outside: skipped
	add(10, redoEntry{rm: ".flashstor.sys/format.json"})

	var got []string
	for _, r := range parseRedoLog(log) {
		got = append(got, fmt.Sprintf("%d %s %s %v", r.seq, r.path, r.data, r.remove))
	}
	want := []string{"2 bkt/b a1 false", "2 bkt/a  true", "4 bkt/c c2 false", "5 bkt/d  true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
}

// TestRedoLogRemovalFindsADirectory: a removal record whose path is now a directory (keys
// below it made since) leaves it alone, and the drive opens.
func TestRedoLogRemovalFindsADirectory(t *testing.T) {
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bkt", "p", "q"), 0o755); err != nil {
		t.Fatal(err)
	}
	del := redoEntry{rm: "bkt/p"}
	log := slices.Concat(encodeRedoHeader(5, 1), encodeRedoEntry(5, 1, 1, del, del.len()))
	if err := os.WriteFile(filepath.Join(dir, storage.SysVolume, redoLogFile), log, 0o600); err != nil {
		t.Fatal(err)
	}
	openRedo(t, dir, 1<<20)
	if _, err := os.Stat(filepath.Join(dir, "bkt", "p", "q")); err != nil {
		t.Fatalf("the directory below the removed path: %v", err)
	}
}
