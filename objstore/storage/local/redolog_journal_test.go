package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Journal records (storage.JournalDir) written and removed through the redo log (record
// version 3).

const (
	jid1 = "188e0d6c2f4a1b3004a5c7e9f1d3b5a7"
	jid2 = "188e0d6c2f4a1b30ffeeddccbbaa9988"
	jid3 = "188e0d6c2f4a1b310123456789abcdef"
)

// journalPath returns the path of the journal record id in the system volume.
func journalPath(id string) string { return storage.JournalDir + "/" + id }

// checkJournal checks that each record of want holds its bytes and each of gone is not
// found, read and listed as package journal does.
func checkJournal(t *testing.T, d *Drive, want map[string][]byte, gone ...string) {
	t.Helper()
	ctx := context.Background()
	names, err := d.ListDir(ctx, storage.SysVolume, storage.JournalDir)
	if err != nil && !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatal(err)
	}
	for id, w := range want {
		if got, err := d.ReadFile(ctx, storage.SysVolume, journalPath(id)); err != nil || !bytes.Equal(got, w) {
			t.Errorf("journal record %s: %.40q, %v; want %.40q", id, got, err, w)
		}
		if !slices.Contains(names, id) {
			t.Errorf("journal record %s not listed (%q)", id, names)
		}
	}
	for _, id := range gone {
		if got, err := d.ReadFile(ctx, storage.SysVolume, journalPath(id)); !errors.Is(err, storage.ErrFileNotFound) {
			t.Errorf("journal record %s: %.40q, %v; want it gone", id, got, err)
		}
		if slices.Contains(names, id) {
			t.Errorf("journal record %s listed (%q); want it gone", id, names)
		}
	}
}

// putSysFile writes the system volume file p with b behind the drive's back, as a crash
// that lost a later change of it leaves it.
func putSysFile(t *testing.T, d *Drive, p string, b []byte) {
	t.Helper()
	full := filepath.Join(d.root, storage.SysVolume, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRedoLogRedoesJournalRecords: a journal record whose write a crash cut between its
// log record and the tree's write (failpoint write:logged), and one written whole but lost
// from the tree (never written back), are both back after the redo, readable and listed.
// Each write is one record of the log, in the generation, with no checkpoint. A third,
// cut the same way, then removed (Delete finds no file), stays removed.
func TestRedoLogRedoesJournalRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cut := false
	d, err := Open(dir, Options{RedoLog: true, RedoLogSize: 1 << 20, Failpoint: func(step string) error {
		if step == "write:logged" && cut {
			return errors.New("crash")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.redo.close() })
	gen := d.redo.gen
	if err := d.WriteFile(ctx, storage.SysVolume, journalPath(jid1), []byte("intent one")); err != nil {
		t.Fatal(err)
	}
	cut = true
	if err := d.WriteFile(ctx, storage.SysVolume, journalPath(jid2), []byte("intent two")); err == nil {
		t.Fatal("the write cut at write:logged succeeded")
	}
	if err := d.WriteFile(ctx, storage.SysVolume, journalPath(jid3), []byte("intent three")); err == nil {
		t.Fatal("the write cut at write:logged succeeded")
	}
	if err := d.Delete(ctx, storage.SysVolume, journalPath(jid3), false); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("Delete of the record whose tree write failed: %v; want ErrFileNotFound", err)
	}
	if d.redo.seq != 4 || d.redo.gen != gen {
		t.Fatalf("%d records in generation %d (was %d); want 4 in the same", d.redo.seq, d.redo.gen, gen)
	}
	checkJournal(t, d, map[string][]byte{jid1: []byte("intent one")}, jid2, jid3)
	d.redo.abandon()
	if err := os.Remove(filepath.Join(dir, storage.SysVolume, journalPath(jid1))); err != nil {
		t.Fatal(err)
	}

	d = openRedo(t, dir, 1<<20)
	checkJournal(t, d, map[string][]byte{jid1: []byte("intent one"), jid2: []byte("intent two")}, jid3)
}

// TestRedoLogJournalRemovalStays: a journal record removed (Delete) and a crash that lost
// the unlink (it was never synced): the redo removes it again, where a plain Delete would
// leave it back in the tree for the journal's recovery to find.
func TestRedoLogJournalRemovalStays(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	for _, id := range []string{jid1, jid2} {
		if err := d.WriteFile(ctx, storage.SysVolume, journalPath(id), []byte("intent "+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SyncFileSystem(ctx); err != nil { // both in the synced tree, the log empty
		t.Fatal(err)
	}
	if err := d.Delete(ctx, storage.SysVolume, journalPath(jid1), false); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, storage.SysVolume, journalPath(jid1), false); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("a second Delete: %v; want ErrFileNotFound", err)
	}
	checkJournal(t, d, map[string][]byte{jid2: []byte("intent " + jid2)}, jid1)
	d.redo.abandon()
	putSysFile(t, d, journalPath(jid1), []byte("intent "+jid1))

	d = openRedo(t, dir, 1<<20)
	checkJournal(t, d, map[string][]byte{jid2: []byte("intent " + jid2)}, jid1)
}

// TestRedoLogJournalTornRecord: a journal record whose log record is torn (its last block
// never reached the disk, so its write was never acknowledged) is not redone, and the
// records after it still are.
func TestRedoLogJournalTornRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 1<<20)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("intent "), 1000) // a record of two blocks
	at := d.redo.off
	if err := d.WriteFile(ctx, storage.SysVolume, journalPath(jid1), big); err != nil {
		t.Fatal(err)
	}
	if d.redo.off-at != 2*redoBlock {
		t.Fatalf("the journal record's log record is %d bytes, want 2 blocks", d.redo.off-at)
	}
	if err := d.CommitObject(ctx, "bkt", "k", redoContent("k", 1), "", ""); err != nil {
		t.Fatal(err)
	}
	d.redo.abandon()
	f, err := os.OpenFile(filepath.Join(dir, storage.SysVolume, redoLogFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(make([]byte, redoBlock), at+redoBlock)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, storage.SysVolume, journalPath(jid1))); err != nil {
		t.Fatal(err)
	}
	removeFromTree(t, d, "bkt", "k")

	d = openRedo(t, dir, 1<<20)
	checkJournal(t, d, nil, jid1)
	checkKeys(t, d, map[string][]byte{"k": redoContent("k", 1)})
}

// TestRedoLogJournalSettles: a change of a logged journal record that is not logged (a
// write too large for the log, a rename, the removal of the journal's directory) settles
// first: a redo after a crash would otherwise write the logged bytes over it.
func TestRedoLogJournalSettles(t *testing.T) {
	ctx := context.Background()
	large := bytes.Repeat([]byte("L"), 3*redoBlock) // no room in a log of 2 blocks
	for _, tc := range []struct {
		name   string
		change func(d *Drive) error
		want   map[string][]byte
		gone   []string
	}{
		{"WriteFile too large", func(d *Drive) error {
			return d.WriteFile(ctx, storage.SysVolume, journalPath(jid1), large)
		}, map[string][]byte{jid1: large}, nil},
		{"RenameFile", func(d *Drive) error {
			return d.RenameFile(ctx, storage.SysVolume, journalPath(jid1), storage.SysVolume, "moved")
		}, nil, []string{jid1}},
		{"Delete recursive", func(d *Drive) error {
			return d.Delete(ctx, storage.SysVolume, storage.JournalDir, true)
		}, nil, []string{jid1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openRedo(t, dir, 2*redoBlock)
			if err := d.WriteFile(ctx, storage.SysVolume, journalPath(jid1), []byte("small")); err != nil {
				t.Fatal(err)
			}
			if err := tc.change(d); err != nil {
				t.Fatal(err)
			}
			d.redo.abandon()
			d = openRedo(t, dir, 2*redoBlock)
			checkJournal(t, d, tc.want, tc.gone...)
		})
	}
}

// TestRedoLogOtherSysFilesNotLogged: system volume files other than the journal's records
// are written and removed as before, without a record.
func TestRedoLogOtherSysFilesNotLogged(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	for _, p := range []string{"multipart/a/rec", storage.JournalDir + "/short", journalPath(jid1) + "/x", "fence.json"} {
		if err := d.WriteFile(ctx, storage.SysVolume, p, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, storage.SysVolume, p, false); err != nil {
			t.Fatal(err)
		}
	}
	if d.redo.seq != 0 {
		t.Fatalf("%d records for files that are not journal records", d.redo.seq)
	}
}

// journalLog returns a log of generation 9 holding what version 3 adds beside the records
// of versions 1 and 2: the bytes of testdata/redolog-v3.golden.
func journalLog() []byte {
	const gen, nonce = 9, 0x5eed
	log := make([]byte, 12*redoBlock)
	copy(log, encodeRedoHeader(gen, nonce))
	off := int64(redoBlock)
	for i, e := range []redoEntry{
		{path: "bkt/a", data: []byte("a1")},
		{path: sysRecordPrefix + jid1, data: []byte("intent one")},
		{path: "bkt/b", data: []byte("a1"), rm: "bkt/a"},
		{path: sysRecordPrefix + jid2, data: []byte("intent two")},
		{rm: sysRecordPrefix + jid1},
		{path: "bkt/c", data: []byte("c1")},
	} {
		copy(log[off:], encodeRedoEntry(gen, nonce, uint64(i+1), e, e.len()))
		off += e.len()
	}
	return log
}

// redoStrings returns the records of the log b as "seq path data remove".
func redoStrings(b []byte) []string {
	var got []string
	for _, r := range parseRedoLog(b) {
		got = append(got, fmt.Sprintf("%d %s %s %v", r.seq, r.path, r.data, r.remove))
	}
	return got
}

// TestRedoLogReadsVersion3: the golden log of version 3 records among records of versions
// 1 and 2 is read as written; the version 1 golden still is (TestRedoLogReadsVersion1).
// Read as a binary from before version 3 reads it (a version it does not know, here 4),
// the records after the journal's are still redone.
func TestRedoLogReadsVersion3(t *testing.T) {
	golden, err := os.ReadFile("testdata/redolog-v3.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, journalLog()) {
		t.Fatal("the version 3 golden log differs from what encodeRedoEntry writes")
	}
	j1, j2 := sysRecordPrefix+jid1, sysRecordPrefix+jid2
	want := []string{"3 bkt/b a1 false", "3 bkt/a  true", "4 " + j2 + " intent two false", "5 " + j1 + "  true", "6 bkt/c c1 false"}
	if got := redoStrings(golden); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %q, want %q", got, want)
	}

	older := bytes.Clone(golden)
	n := 0
	for off := redoBlock; off+redoRecordFixed <= len(older); off += redoBlock {
		if binary.LittleEndian.Uint32(older[off:]) == redoRecordMagic && binary.LittleEndian.Uint32(older[off+4:]) == redoVersionSys {
			binary.LittleEndian.PutUint32(older[off+4:], redoVersionSys+1)
			binary.LittleEndian.PutUint32(older[off+44:], crc32.Checksum(older[off:off+44], crcTable))
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d version 3 records in the golden log, want 3", n)
	}
	want = []string{"3 bkt/b a1 false", "3 bkt/a  true", "6 bkt/c c1 false"}
	if got := redoStrings(older); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records read past unknown versions %q, want %q", got, want)
	}
}

// TestParseRedoLogSysRecords: a version 3 record names a journal record, a put or a
// removal, never both; nothing else of the system volume, nor a bucket's path; versions
// 1 and 2 never name the system volume.
func TestParseRedoLogSysRecords(t *testing.T) {
	const gen, nonce = 7, 0x1234
	j := sysRecordPrefix + jid1
	for _, tc := range []struct {
		name    string
		version uint32 // the record's, written over e.version()'s; 0 keeps it
		e       redoEntry
		ok      bool
	}{
		{"put", 0, redoEntry{path: j, data: []byte("x")}, true},
		{"empty put", 0, redoEntry{path: j}, true},
		{"upper-case id", 0, redoEntry{path: sysRecordPrefix + strings.ToUpper(jid1), data: []byte("x")}, true},
		{"removal", 0, redoEntry{rm: j}, true},
		{"removal with data", 0, redoEntry{data: []byte("x"), rm: j}, false},
		{"rename", 0, redoEntry{path: sysRecordPrefix + jid2, data: []byte("x"), rm: j}, false},
		{"put and a bucket's removal", 0, redoEntry{path: j, data: []byte("x"), rm: "bkt/a"}, false},
		{"format", 0, redoEntry{path: storage.SysVolume + "/format.json", data: []byte("x")}, false},
		{"staging", 0, redoEntry{path: storage.SysVolume + "/tmp/" + jid1, data: []byte("x")}, false},
		{"redo log", 0, redoEntry{rm: storage.SysVolume + "/" + redoLogFile}, false},
		{"short id", 0, redoEntry{path: j[:len(j)-1], data: []byte("x")}, false},
		{"long id", 0, redoEntry{path: j + "0", data: []byte("x")}, false},
		{"not hex", 0, redoEntry{path: j[:len(j)-1] + "g", data: []byte("x")}, false},
		{"below a record", 0, redoEntry{path: j + "/x", data: []byte("x")}, false},
		{"dot dot", 0, redoEntry{path: sysRecordPrefix + "../format.json", data: []byte("x")}, false},
		{"the directory", 0, redoEntry{rm: storage.SysVolume + "/" + storage.JournalDir}, false},
		{"version 1 naming a journal record", redoVersion, redoEntry{path: j, data: []byte("x")}, false},
		{"version 2 naming a journal record", redoVersionRemove, redoEntry{rm: j}, false},
		{"version 3 naming a bucket's path", redoVersionSys, redoEntry{path: "bkt/a", data: []byte("x")}, false},
		{"version 3 removing a bucket's path", redoVersionSys, redoEntry{rm: "bkt/a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := encodeRedoEntry(gen, nonce, 1, tc.e, tc.e.len())
			if tc.version != 0 {
				binary.LittleEndian.PutUint32(rec[4:], tc.version)
				binary.LittleEndian.PutUint32(rec[44:], crc32.Checksum(rec[:44], crcTable))
			}
			recs := parseRedoLog(slices.Concat(encodeRedoHeader(gen, nonce), rec))
			if got := len(recs) == 1; got != tc.ok {
				t.Fatalf("parsed %d records; want the record read: %v", len(recs), tc.ok)
			}
		})
	}
}
