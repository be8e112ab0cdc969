package fusefs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// TestCoherenceFromS3 changes objects through the layer (as the S3 face does) after the
// kernel cached them, and reads through the mount at once, without sleeping: the change
// feed must have dropped every stale cache before the layer call returned.
func TestCoherenceFromS3(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		ctx := context.Background()
		p := filepath.Join(dir, "f.txt")
		putObject(t, l, "f.txt", []byte("version one"), nil)
		readIs(t, p, "version one") // now in the page, attribute and entry caches

		// Overwrite, longer then shorter.
		putObject(t, l, "f.txt", []byte("version two, longer"), nil)
		readIs(t, p, "version two, longer")
		putObject(t, l, "f.txt", []byte("v3"), nil)
		readIs(t, p, "v3")

		// A descriptor opened before the overwrite reads the new content too.
		fd, err := os.Open(p)
		must(t, "open", err)
		defer fd.Close()
		putObject(t, l, "f.txt", []byte("version four"), nil)
		buf := make([]byte, 64)
		n, err := fd.ReadAt(buf, 0)
		if string(buf[:n]) != "version four" {
			t.Fatalf("read through an open descriptor after an overwrite: %q (%v)", buf[:n], err)
		}

		// A name the kernel holds as absent appears, in a new directory too.
		for _, rel := range []string{"new.txt", "newdir/sub/x"} {
			if _, err := os.Stat(filepath.Join(dir, rel)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stat %s before the put: %v", rel, err)
			}
			putObject(t, l, rel, []byte("fresh"), nil)
			readIs(t, filepath.Join(dir, rel), "fresh")
		}

		// The same in a directory made through the mount, whose every entry it knows.
		must(t, "mkdir", os.Mkdir(filepath.Join(dir, "made"), 0o755))
		must(t, "write", os.WriteFile(filepath.Join(dir, "made", "mine"), []byte("m"), 0o644))
		if _, err := os.Stat(filepath.Join(dir, "made", "theirs")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat before the put: %v", err)
		}
		putObject(t, l, "made/theirs", []byte("t"), nil)
		readIs(t, filepath.Join(dir, "made", "theirs"), "t")
		putObject(t, l, "made/sub/deeper", []byte("d"), nil)
		readIs(t, filepath.Join(dir, "made", "sub", "deeper"), "d")

		// Metadata changes show at once.
		_, err = l.UpdateObjectMetadata(ctx, testBucket, "f.txt", objstore.MetadataPatch{Set: map[string]string{metaMode: "0600", metaUID: "1234"}})
		must(t, "UpdateObjectMetadata", err)
		st := statOf(t, p)
		if st.Mode&0o7777 != 0o600 || st.Uid != 1234 {
			t.Fatalf("after a metadata change: mode %o uid %d", st.Mode, st.Uid)
		}

		// Delete and rename.
		must(t, "DeleteObject", l.DeleteObject(ctx, testBucket, "new.txt"))
		if _, err := os.Stat(filepath.Join(dir, "new.txt")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat after an S3 delete: %v", err)
		}
		_, err = l.RenameObject(ctx, testBucket, "f.txt", "g.txt", objstore.RenameOptions{})
		must(t, "RenameObject", err)
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat of a renamed source: %v", err)
		}
		readIs(t, filepath.Join(dir, "g.txt"), "version four")

		// A directory that only existed through its last key goes with it.
		must(t, "DeleteObject", l.DeleteObject(ctx, testBucket, "newdir/sub/x"))
		if _, err := os.Stat(filepath.Join(dir, "newdir")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat of an emptied implicit directory: %v", err)
		}

		// A listing sees S3's changes.
		putObject(t, l, "listed", nil, nil)
		if !hasEntry(t, dir, "listed") {
			t.Fatal("an object put through S3 is not listed")
		}

		// A file with changes not committed yet keeps them over an S3 write, and its close
		// replaces what S3 wrote: the last writer wins.
		w, err := os.OpenFile(filepath.Join(dir, "g.txt"), os.O_WRONLY|os.O_TRUNC, 0)
		must(t, "open", err)
		_, err = w.Write([]byte("from the mount"))
		must(t, "write", err)
		putObject(t, l, "g.txt", []byte("from S3"), nil)
		must(t, "close", w.Close())
		if got, _ := getObject(t, l, "g.txt"); string(got) != "from the mount" {
			t.Fatalf("after the mount's close: %q", got)
		}
		readIs(t, filepath.Join(dir, "g.txt"), "from the mount")

		// A file becomes a directory of the same name: the directory wins.
		putObject(t, l, "g.txt/inner", []byte("x"), nil)
		if fi, err := os.Stat(filepath.Join(dir, "g.txt")); err != nil || !fi.IsDir() {
			t.Fatalf("a key under a file's name: %v, %v", fi, err)
		}
	})
}

// TestCoherenceToS3 closes files through the mount and looks at once through the layer.
func TestCoherenceToS3(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		ctx := context.Background()
		data := pattern(2<<20+333, 7)
		p := filepath.Join(dir, "docs", "report.json")
		must(t, "mkdir", os.Mkdir(filepath.Join(dir, "docs"), 0o750))
		must(t, "write", os.WriteFile(p, data, 0o640))
		got, info := getObject(t, l, "docs/report.json")
		if !bytes.Equal(got, data) {
			t.Fatal("object content differs from what was written")
		}
		if sum := md5.Sum(data); info.Size != int64(len(data)) || info.ContentType() != "application/json" || info.ETag != hex.EncodeToString(sum[:]) {
			t.Fatalf("object info: size %d type %q etag %q", info.Size, info.ContentType(), info.ETag)
		}
		if info.Metadata[metaMode] != "33184" { // S_IFREG|0640, as s3fs writes it
			t.Fatalf("mode metadata %q", info.Metadata[metaMode])
		}
		marker, err := l.StatObject(ctx, testBucket, "docs/")
		must(t, "StatObject of the directory marker", err)
		if m, _ := parseMode(marker.Metadata[metaMode]); m != syscall.S_IFDIR|0o750 {
			t.Fatalf("marker mode %o", m)
		}

		// Random writes through the staging file.
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		must(t, "open", err)
		_, err = f.WriteAt([]byte("PATCH"), 1000)
		must(t, "pwrite", err)
		must(t, "fsync", f.Sync())
		copy(data[1000:], "PATCH")
		if got, _ := getObject(t, l, "docs/report.json"); !bytes.Equal(got, data) {
			t.Fatal("fsync did not commit")
		}
		must(t, "close", f.Close())

		must(t, "chmod", os.Chmod(p, 0o604))
		must(t, "chown", os.Chown(p, 42, 43))
		st, err := l.StatObject(ctx, testBucket, "docs/report.json")
		must(t, "StatObject", err)
		if st.Metadata[metaMode] != "33156" || st.Metadata[metaUID] != "42" || st.Metadata[metaGID] != "43" {
			t.Fatalf("after chmod and chown: %v", st.Metadata)
		}

		must(t, "rename", os.Rename(p, filepath.Join(dir, "final.json")))
		if _, err := l.StatObject(ctx, testBucket, "docs/report.json"); !errors.Is(err, objstore.ErrObjectNotFound) {
			t.Fatalf("source after rename: %v", err)
		}
		if got, _ := getObject(t, l, "final.json"); !bytes.Equal(got, data) {
			t.Fatal("renamed object differs")
		}
		must(t, "remove", os.Remove(filepath.Join(dir, "final.json")))
		if _, err := l.StatObject(ctx, testBucket, "final.json"); !errors.Is(err, objstore.ErrObjectNotFound) {
			t.Fatalf("after unlink: %v", err)
		}
	})
}

func readIs(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("read %s: %q, %v; want %q", path, got, err, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(want)) {
		t.Fatalf("stat %s: %v, %v; want size %d", path, fi, err, len(want))
	}
}

func statOf(t *testing.T, path string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	must(t, "stat "+path, syscall.Lstat(path, &st))
	return st
}

func hasEntry(t *testing.T, dir, name string) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, "readdir", err)
	for _, e := range ents {
		if e.Name() == name {
			return true
		}
	}
	return false
}
