// Package storagetest is the conformance suite every storage.Drive implementation must pass:
// the local drive, the health-checking and fault-injecting decorators, and later the remote
// drive. Each test states the part of the Drive contract it checks.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Run runs the suite. newDrive returns a new, empty drive for each test; cleanup is the
// caller's (t.Cleanup, t.TempDir).
func Run(t *testing.T, newDrive func(t *testing.T) storage.Drive) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Drive)
	}{
		{"Format", testFormat},
		{"Volumes", testVolumes},
		{"InvalidPaths", testInvalidPaths},
		{"CreateFile", testCreateFile},
		{"FilesAndDirs", testFilesAndDirs},
		{"CommitAndRead", testCommitAndRead},
		{"CommitReplacesData", testCommitReplacesData},
		{"DeleteObject", testDeleteObject},
		{"RenameObject", testRenameObject},
		{"AwkwardKeys", testAwkwardKeys},
		{"WalkOrder", testWalkOrder},
		{"WalkOptions", testWalkOptions},
		{"ConcurrentCommitsAndDeletes", testConcurrent},
		{"DeleteVolumeNotEmpty", testDeleteVolumeNotEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newDrive(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func newBucket(t *testing.T, d storage.Drive) string {
	t.Helper()
	must(t, "MakeVolume", d.MakeVolume(ctx(t), "bucket"))
	return "bucket"
}

func randomID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	return id
}

// objectMeta returns a metadata record naming a data directory (or none, for inline).
func objectMeta(etag string, dataDir [16]byte, inline []byte) *meta.Object {
	return &meta.Object{
		VersionID: randomID(), DataDir: dataDir, ModTime: time.Now().UTC(), Size: int64(len(inline)),
		ETag:       etag,
		Erasure:    meta.Erasure{DataShards: 1, BlockSize: 1 << 20, Distribution: []uint8{0}},
		Inline:     inline != nil,
		InlineData: inline,
	}
}

// stage writes a data directory with one part file into the staging area and returns the
// directory's path in the system volume and its id.
func stage(t *testing.T, d storage.Drive, content []byte) (string, [16]byte) {
	t.Helper()
	id := randomID()
	dir := "tmp/" + hex.EncodeToString(id[:])
	must(t, "CreateFile", d.CreateFile(ctx(t), storage.SysVolume, dir+"/"+layout.PartName(1), int64(len(content)), bytes.NewReader(content)))
	return dir, id
}

// putObject commits an object whose one part holds content, and returns its data directory id.
func putObject(t *testing.T, d storage.Drive, bucket, key string, content []byte) [16]byte {
	t.Helper()
	dir, id := stage(t, d, content)
	m := objectMeta(key, id, nil)
	must(t, "CommitObject "+key, d.CommitObject(ctx(t), bucket, key, m.Marshal(), storage.SysVolume, dir))
	return id
}

func readPart(t *testing.T, d storage.Drive, bucket string, id [16]byte) ([]byte, error) {
	t.Helper()
	f, err := d.OpenFile(ctx(t), bucket, layout.PartPath(hex.EncodeToString(id[:]), 1))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, f.Size())
	_, err = f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b, err
}

func testFormat(t *testing.T, d storage.Drive) {
	_, err := d.ReadFormat(ctx(t))
	mustIs(t, "ReadFormat of a new drive", err, storage.ErrUnformatted)
	for _, f := range []string{`{"v":1}`, `{"v":2,"longer":true}`} {
		must(t, "WriteFormat", d.WriteFormat(ctx(t), []byte(f)))
		got, err := d.ReadFormat(ctx(t))
		must(t, "ReadFormat", err)
		if string(got) != f {
			t.Fatalf("ReadFormat = %q, want %q", got, f)
		}
	}
	info, err := d.DiskInfo(ctx(t))
	must(t, "DiskInfo", err)
	if info.Total == 0 || info.Free > info.Total || !info.Online {
		t.Fatalf("DiskInfo = %+v", info)
	}
}

func testVolumes(t *testing.T, d storage.Drive) {
	c := ctx(t)
	before := time.Now().Add(-time.Second)
	must(t, "MakeVolume", d.MakeVolume(c, "alpha"))
	must(t, "MakeVolume", d.MakeVolume(c, "beta.1"))
	mustIs(t, "MakeVolume twice", d.MakeVolume(c, "alpha"), storage.ErrVolumeExists)
	created, err := d.StatVolume(c, "alpha")
	must(t, "StatVolume", err)
	if created.Before(before) || created.After(time.Now().Add(time.Second)) {
		t.Fatalf("StatVolume created = %v, want about now", created)
	}
	_, err = d.StatVolume(c, "gamma")
	mustIs(t, "StatVolume of a missing volume", err, storage.ErrVolumeNotFound)
	vols, err := d.ListVolumes(c)
	must(t, "ListVolumes", err)
	slices.Sort(vols)
	if !slices.Equal(vols, []string{"alpha", "beta.1"}) {
		t.Fatalf("ListVolumes = %q", vols)
	}
	must(t, "DeleteVolume", d.DeleteVolume(c, "alpha", false))
	mustIs(t, "DeleteVolume twice", d.DeleteVolume(c, "alpha", false), storage.ErrVolumeNotFound)
	mustIs(t, "MakeVolume with a bad name", d.MakeVolume(c, "../evil"), storage.ErrInvalidPath)
	mustIs(t, "DeleteVolume of the system volume", d.DeleteVolume(c, storage.SysVolume, true), storage.ErrInvalidPath)
}

func testInvalidPaths(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	for _, p := range []string{"../x", "/abs", "a/../../b", "a//b", "./a", "a/.", "a\x00b", "x/", strings.Repeat("n", 256)} {
		mustIs(t, fmt.Sprintf("CreateFile(%q)", p), d.CreateFile(c, b, p, 1, strings.NewReader("x")), storage.ErrInvalidPath)
		_, err := d.ReadFile(c, b, p)
		mustIs(t, fmt.Sprintf("ReadFile(%q)", p), err, storage.ErrInvalidPath)
		mustIs(t, fmt.Sprintf("Delete(%q)", p), d.Delete(c, b, p, true), storage.ErrInvalidPath)
		mustIs(t, fmt.Sprintf("RenameFile to %q", p), d.RenameFile(c, b, "f", b, p), storage.ErrInvalidPath)
	}
	for _, v := range []string{"..", "", "a/b", "UPPER"} {
		_, err := d.ReadFile(c, v, "f")
		mustIs(t, fmt.Sprintf("ReadFile in volume %q", v), err, storage.ErrInvalidPath)
	}
	for _, k := range []string{"", "a\x00", strings.Repeat("k", 1025), "bad\xffutf8", strings.Repeat("s", 254)} {
		_, err := d.ReadMeta(c, b, k)
		mustIs(t, fmt.Sprintf("ReadMeta(%.20q)", k), err, storage.ErrInvalidPath)
	}
}

func testCreateFile(t *testing.T, d storage.Drive) {
	c := ctx(t)
	data := bytes.Repeat([]byte("0123456789"), 300_000)
	must(t, "CreateFile", d.CreateFile(c, storage.SysVolume, "tmp/x/a", int64(len(data)), bytes.NewReader(data)))
	got, err := d.ReadFile(c, storage.SysVolume, "tmp/x/a")
	must(t, "ReadFile", err)
	if !bytes.Equal(got, data) {
		t.Fatal("ReadFile returned other bytes than CreateFile wrote")
	}
	f, err := d.OpenFile(c, storage.SysVolume, "tmp/x/a")
	must(t, "OpenFile", err)
	part := make([]byte, 7)
	if _, err := f.ReadAt(part, 1_000_003); err != nil || string(part) != "3456789" || f.Size() != int64(len(data)) {
		t.Fatalf("ReadAt = %q, %v (size %d)", part, err, f.Size())
	}
	// A block read (the drive's own ReadBlockAt when it has one): the checksum and the
	// bytes after it, then a block cut short by the end of the file.
	sum, block := make([]byte, 3), make([]byte, 500_000)
	if n, err := storage.ReadBlock(f, sum, block, 1_000_001); err != nil || n != 500_003 ||
		string(sum) != "123" || !bytes.Equal(block, data[1_000_004:1_500_004]) {
		t.Fatalf("ReadBlock = %d, %v, sum %q, block equal %v", n, err, sum, bytes.Equal(block, data[1_000_004:1_500_004]))
	}
	if n, err := storage.ReadBlock(f, sum, block, int64(len(data))-10); !errors.Is(err, io.EOF) || n != 10 ||
		string(sum) != "012" || string(block[:7]) != "3456789" {
		t.Fatalf("ReadBlock at the end = %d, %v, sum %q, block %q, want 10, EOF", n, err, sum, block[:7])
	}
	f.Close()

	must(t, "CreateFile of unknown size", d.CreateFile(c, storage.SysVolume, "tmp/x/u", -1, bytes.NewReader(data[:5])))
	mustIs(t, "CreateFile short", d.CreateFile(c, storage.SysVolume, "tmp/x/s", 10, strings.NewReader("abc")), storage.ErrShortWrite)
	mustIs(t, "CreateFile long", d.CreateFile(c, storage.SysVolume, "tmp/x/l", 2, strings.NewReader("abc")), storage.ErrLongWrite)
	bad := errors.New("signature mismatch at EOF")
	err = d.CreateFile(c, storage.SysVolume, "tmp/x/e", 3, io.MultiReader(strings.NewReader("abc"), errReader{bad}))
	mustIs(t, "CreateFile whose reader fails at EOF", err, bad)
	for _, p := range []string{"tmp/x/s", "tmp/x/l", "tmp/x/e"} {
		_, err := d.ReadFile(c, storage.SysVolume, p)
		mustIs(t, "a failed CreateFile left "+p, err, storage.ErrFileNotFound)
	}
	_, err = d.OpenFile(c, storage.SysVolume, "tmp/none")
	mustIs(t, "OpenFile of a missing file", err, storage.ErrFileNotFound)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func testFilesAndDirs(t *testing.T, d storage.Drive) {
	c := ctx(t)
	must(t, "WriteFile", d.WriteFile(c, storage.SysVolume, "multipart/a/b/rec", []byte("one")))
	must(t, "WriteFile replace", d.WriteFile(c, storage.SysVolume, "multipart/a/b/rec", []byte("two")))
	got, err := d.ReadFile(c, storage.SysVolume, "multipart/a/b/rec")
	if err != nil || string(got) != "two" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	must(t, "WriteFile", d.WriteFile(c, storage.SysVolume, "multipart/a/c", []byte("x")))
	names, err := d.ListDir(c, storage.SysVolume, "multipart/a")
	must(t, "ListDir", err)
	slices.Sort(names)
	if !slices.Equal(names, []string{"b/", "c"}) {
		t.Fatalf("ListDir = %q", names)
	}
	must(t, "RenameFile dir", d.RenameFile(c, storage.SysVolume, "multipart/a/b", storage.SysVolume, "multipart/z/y/b"))
	if got, err := d.ReadFile(c, storage.SysVolume, "multipart/z/y/b/rec"); err != nil || string(got) != "two" {
		t.Fatalf("after RenameFile: %q, %v", got, err)
	}
	must(t, "Delete recursive", d.Delete(c, storage.SysVolume, "multipart/z", true))
	_, err = d.ListDir(c, storage.SysVolume, "multipart/z")
	mustIs(t, "ListDir of a deleted dir", err, storage.ErrFileNotFound)
	must(t, "Delete file", d.Delete(c, storage.SysVolume, "multipart/a/c", false))
	_, err = d.ListDir(c, storage.SysVolume, "multipart/a")
	mustIs(t, "Delete left an empty parent", err, storage.ErrFileNotFound)
	mustIs(t, "Delete of a missing file", d.Delete(c, storage.SysVolume, "multipart/a/c", false), storage.ErrFileNotFound)
}

func testCommitAndRead(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	_, err := d.ReadMeta(c, b, "k")
	mustIs(t, "ReadMeta of a missing object", err, storage.ErrFileNotFound)
	_, err = d.ReadMeta(c, "nobucket", "k")
	mustIs(t, "ReadMeta in a missing bucket", err, storage.ErrVolumeNotFound)
	err = d.CommitObject(c, "nobucket", "k", objectMeta("x", [16]byte{}, []byte{}).Marshal(), "", "")
	mustIs(t, "CommitObject in a missing bucket", err, storage.ErrVolumeNotFound)

	id := putObject(t, d, b, "dir/k", []byte("payload"))
	raw, err := d.ReadMeta(c, b, "dir/k")
	must(t, "ReadMeta", err)
	m, err := meta.Unmarshal(raw)
	must(t, "meta.Unmarshal", err)
	if m.ETag != "dir/k" || m.DataDir != id {
		t.Fatalf("ReadMeta returned %+v", m)
	}
	if got, err := readPart(t, d, b, id); err != nil || string(got) != "payload" {
		t.Fatalf("part = %q, %v", got, err)
	}

	// A metadata-only update keeps the data.
	m.Metadata = map[string]string{"x-amz-meta-mode": "0600"}
	must(t, "CommitObject metadata only", d.CommitObject(c, b, "dir/k", m.Marshal(), "", ""))
	raw, _ = d.ReadMeta(c, b, "dir/k")
	if m2, err := meta.Unmarshal(raw); err != nil || m2.Metadata["x-amz-meta-mode"] != "0600" {
		t.Fatalf("after metadata update: %+v, %v", m2, err)
	}
	if got, err := readPart(t, d, b, id); err != nil || string(got) != "payload" {
		t.Fatalf("a metadata-only update lost the data: %q, %v", got, err)
	}

	inline := objectMeta("inline", [16]byte{}, []byte("inline bytes"))
	must(t, "CommitObject inline", d.CommitObject(c, b, "in", inline.Marshal(), "", ""))
	raw, _ = d.ReadMeta(c, b, "in")
	if m, err := meta.Unmarshal(raw); err != nil || string(m.InlineData) != "inline bytes" {
		t.Fatalf("inline object: %+v, %v", m, err)
	}
}

// testCommitReplacesData checks that a commit switches the metadata to the new data and
// leaves the previous data directory for the caller to remove.
func testCommitReplacesData(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	first := putObject(t, d, b, "k", []byte("first"))
	second := putObject(t, d, b, "k", []byte("second"))
	raw, err := d.ReadMeta(c, b, "k")
	must(t, "ReadMeta", err)
	if m, _ := meta.Unmarshal(raw); m == nil || m.DataDir != second {
		t.Fatal("the metadata does not name the new data")
	}
	if got, err := readPart(t, d, b, second); err != nil || string(got) != "second" {
		t.Fatalf("new data = %q, %v", got, err)
	}
	if got, err := readPart(t, d, b, first); err != nil || string(got) != "first" {
		t.Fatalf("the previous data went with the commit (%q, %v): the caller could not roll back", got, err)
	}
	must(t, "Delete of the old data directory", d.Delete(c, b, layout.DataDirPath(hex.EncodeToString(first[:])), true))
	if _, err := readPart(t, d, b, first); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("old data still there after Delete: %v", err)
	}
	// Restoring older metadata is a commit without data.
	must(t, "CommitObject inline", d.CommitObject(c, b, "k", objectMeta("i", [16]byte{}, []byte("i")).Marshal(), "", ""))
	if got, err := readPart(t, d, b, second); err != nil || string(got) != "second" {
		t.Fatalf("data replaced by inline data is gone: %q, %v", got, err)
	}
}

func testDeleteObject(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	id := putObject(t, d, b, "a/b/c", []byte("x"))
	putObject(t, d, b, "a/keep", []byte("y"))
	must(t, "DeleteObject", d.DeleteObject(c, b, "a/b/c"))
	_, err := d.ReadMeta(c, b, "a/b/c")
	mustIs(t, "ReadMeta after delete", err, storage.ErrFileNotFound)
	if _, err := readPart(t, d, b, id); err != nil {
		t.Fatalf("DeleteObject removed the data directory, which is the caller's to remove: %v", err)
	}
	mustIs(t, "DeleteObject twice", d.DeleteObject(c, b, "a/b/c"), storage.ErrFileNotFound)
	keys := walkKeys(t, d, b, storage.WalkOptions{Recursive: true})
	if !slices.Equal(keys, []string{"a/keep"}) {
		t.Fatalf("after delete, Walk = %q", keys)
	}
	ents := walkKeys(t, d, b, storage.WalkOptions{Prefix: "a/"})
	if !slices.Equal(ents, []string{"a/keep"}) {
		t.Fatalf("the emptied directory a/b/ still shows as a prefix: %q", ents)
	}
}

func testRenameObject(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	id := putObject(t, d, b, "src/file", []byte("moved"))
	victim := putObject(t, d, b, "dst/deep/file", []byte("replaced"))
	must(t, "RenameObject", d.RenameObject(c, b, "src/file", "dst/deep/file"))
	_, err := d.ReadMeta(c, b, "src/file")
	mustIs(t, "source after rename", err, storage.ErrFileNotFound)
	raw, err := d.ReadMeta(c, b, "dst/deep/file")
	must(t, "ReadMeta of the destination", err)
	if m, _ := meta.Unmarshal(raw); m == nil || m.DataDir != id {
		t.Fatal("the destination does not name the source's data")
	}
	if got, err := readPart(t, d, b, id); err != nil || string(got) != "moved" {
		t.Fatalf("data after rename = %q, %v", got, err)
	}
	if _, err := readPart(t, d, b, victim); err != nil {
		t.Fatalf("RenameObject removed the replaced object's data, which is the caller's to remove: %v", err)
	}
	mustIs(t, "RenameObject of a missing key", d.RenameObject(c, b, "src/file", "x"), storage.ErrFileNotFound)
	if keys := walkKeys(t, d, b, storage.WalkOptions{Recursive: true}); !slices.Equal(keys, []string{"dst/deep/file"}) {
		t.Fatalf("after rename, Walk = %q", keys)
	}
}

// awkwardKeys are keys S3 accepts that are hard on a file system.
var awkwardKeys = []string{
	"..", ".", "../../../../etc/passwd", "a/../b", "./x", "a//b", "/lead", "//", "dir/", "dir/sub/",
	"100%", "%2E%2E", "%00", "x%m", "%data", "%bucket", "sp ace", "tab\tkey", "new\nline",
	"ünïcödé/日本語", "emoji/😀", strings.Repeat("n", 253), strings.Repeat("d/", 511) + "x",
}

func testAwkwardKeys(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	for _, k := range awkwardKeys {
		inline := objectMeta(k, [16]byte{}, []byte(k))
		must(t, fmt.Sprintf("CommitObject(%.30q)", k), d.CommitObject(c, b, k, inline.Marshal(), "", ""))
	}
	for _, k := range awkwardKeys {
		raw, err := d.ReadMeta(c, b, k)
		must(t, fmt.Sprintf("ReadMeta(%.30q)", k), err)
		if m, err := meta.Unmarshal(raw); err != nil || m.ETag != k {
			t.Fatalf("ReadMeta(%.30q) returned another object: %v", k, err)
		}
	}
	want := slices.Clone(awkwardKeys)
	slices.Sort(want)
	if got := walkKeys(t, d, b, storage.WalkOptions{Recursive: true}); !slices.Equal(got, want) {
		t.Fatalf("Walk:\n got %q\nwant %q", got, want)
	}
	for _, k := range awkwardKeys {
		must(t, fmt.Sprintf("DeleteObject(%.30q)", k), d.DeleteObject(c, b, k))
	}
	must(t, "DeleteVolume after deleting every key", d.DeleteVolume(c, b, false))
}

func walkKeys(t *testing.T, d storage.Drive, bucket string, opts storage.WalkOptions) []string {
	t.Helper()
	var keys []string
	err := d.Walk(ctx(t), bucket, opts, func(e storage.Entry) error {
		keys = append(keys, e.Key)
		return nil
	})
	must(t, "Walk", err)
	return keys
}

func testWalkOrder(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	keys := []string{"a", "a-c", "a/b", "a/b/c", "a0", "a.", "a/", "b", "A", "a b", "a/b-", "a/b/", "a/b0", "zz/top", "~"}
	for _, k := range keys {
		must(t, "CommitObject", d.CommitObject(c, b, k, objectMeta(k, [16]byte{}, []byte{}).Marshal(), "", ""))
	}
	slices.Sort(keys)
	if got := walkKeys(t, d, b, storage.WalkOptions{Recursive: true}); !slices.Equal(got, keys) {
		t.Fatalf("Walk order:\n got %q\nwant %q", got, keys)
	}
}

func testWalkOptions(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	for _, k := range []string{"photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg", "photo", "readme", "x/y"} {
		must(t, "CommitObject", d.CommitObject(c, b, k, objectMeta(k, [16]byte{}, []byte{}).Marshal(), "", ""))
	}
	tests := []struct {
		opts storage.WalkOptions
		want []string
	}{
		{storage.WalkOptions{}, []string{"photo", "photos/", "readme", "x/"}},
		{storage.WalkOptions{Prefix: "photos/"}, []string{"photos/2024/", "photos/2025/", "photos/top.jpg"}},
		{storage.WalkOptions{Prefix: "photos/20"}, []string{"photos/2024/", "photos/2025/"}},
		{storage.WalkOptions{Prefix: "photo"}, []string{"photo", "photos/"}},
		{storage.WalkOptions{Prefix: "photos/", Recursive: true, StartAfter: "photos/2024/a.jpg"},
			[]string{"photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg"}},
		{storage.WalkOptions{Recursive: true, StartAfter: "photos/2025/c.jpg"}, []string{"photos/top.jpg", "readme", "x/y"}},
		{storage.WalkOptions{StartAfter: "photos/"}, []string{"readme", "x/"}},
		{storage.WalkOptions{StartAfter: "photos/2024/b.jpg"}, []string{"readme", "x/"}},
		{storage.WalkOptions{Prefix: "nothing/"}, nil},
		{storage.WalkOptions{Prefix: "pho", Recursive: true}, []string{"photo", "photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg"}},
	}
	for _, tt := range tests {
		if got := walkKeys(t, d, b, tt.opts); !slices.Equal(got, tt.want) {
			t.Errorf("Walk(%+v) = %q, want %q", tt.opts, got, tt.want)
		}
	}
	var metas int
	err := d.Walk(c, b, storage.WalkOptions{Recursive: true, WithMeta: true}, func(e storage.Entry) error {
		m, err := meta.UnmarshalHeader(e.Meta)
		if err != nil || m.ETag != e.Key {
			return fmt.Errorf("entry %q: meta %+v, %v", e.Key, m, err)
		}
		metas++
		return nil
	})
	if err != nil || metas != 7 {
		t.Fatalf("Walk WithMeta: %d entries, %v", metas, err)
	}
	stop := errors.New("stop")
	err = d.Walk(c, b, storage.WalkOptions{Recursive: true}, func(storage.Entry) error { return stop })
	mustIs(t, "Walk stopped by fn", err, stop)
	err = d.Walk(c, "nobucket", storage.WalkOptions{}, func(storage.Entry) error { return nil })
	mustIs(t, "Walk of a missing bucket", err, storage.ErrVolumeNotFound)
}

// testConcurrent commits and deletes keys sharing parent directories from many goroutines:
// the removal of an emptied directory must never make a concurrent commit into it fail.
func testConcurrent(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				key := fmt.Sprintf("shared/dir/%d-%d", g, i)
				m := objectMeta(key, [16]byte{}, []byte(key))
				if err := d.CommitObject(c, b, key, m.Marshal(), "", ""); err != nil {
					errs <- fmt.Errorf("commit %s: %w", key, err)
					return
				}
				if err := d.DeleteObject(c, b, key); err != nil {
					errs <- fmt.Errorf("delete %s: %w", key, err)
					return
				}
			}
			key := fmt.Sprintf("shared/dir/final-%d", g)
			if err := d.CommitObject(c, b, key, objectMeta(key, [16]byte{}, []byte{}).Marshal(), "", ""); err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := walkKeys(t, d, b, storage.WalkOptions{Recursive: true}); len(got) != 8 {
		t.Fatalf("after the concurrent run, %d keys remain, want 8: %q", len(got), got)
	}
}

func testDeleteVolumeNotEmpty(t *testing.T, d storage.Drive) {
	c := ctx(t)
	b := newBucket(t, d)
	putObject(t, d, b, "deep/down/obj", []byte("x"))
	mustIs(t, "DeleteVolume of a bucket with an object", d.DeleteVolume(c, b, false), storage.ErrVolumeNotEmpty)
	must(t, "DeleteVolume force", d.DeleteVolume(c, b, true))
	_, err := d.StatVolume(c, b)
	mustIs(t, "StatVolume after forced delete", err, storage.ErrVolumeNotFound)
}
