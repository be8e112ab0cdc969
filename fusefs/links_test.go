package fusefs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// sameInode fails unless the paths are one inode with nlink names, and show the same
// size, mode, owner and mtime.
func sameInode(t *testing.T, nlink uint64, paths ...string) {
	t.Helper()
	first := statOf(t, paths[0])
	for _, p := range paths {
		st := statOf(t, p)
		if st.Ino != first.Ino || st.Nlink != nlink || st.Size != first.Size || st.Mode != first.Mode ||
			st.Uid != first.Uid || st.Mtim != first.Mtim {
			t.Fatalf("%s: ino %d nlink %d size %d mode %o uid %d mtime %v; %s: ino %d size %d mode %o uid %d mtime %v; want nlink %d",
				p, st.Ino, st.Nlink, st.Size, st.Mode, st.Uid, st.Mtim, paths[0], first.Ino, first.Size, first.Mode, first.Uid, first.Mtim, nlink)
		}
	}
}

// fstatNlink returns the link count of an open file.
func fstatNlink(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st syscall.Stat_t
	must(t, "fstat", syscall.Fstat(int(f.Fd()), &st))
	return st.Nlink
}

// objectIs fails unless the object at key holds want.
func objectIs(t *testing.T, l objstore.ObjectLayer, key string, want []byte) {
	t.Helper()
	if got, _ := getObject(t, l, key); !bytes.Equal(got, want) {
		t.Fatalf("object %s: %q, want %q", key, got, want)
	}
}

func TestHardLinks(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "sub", "b"), filepath.Join(dir, "c")
		must(t, "mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755))
		must(t, "write", os.WriteFile(a, []byte("first"), 0o640))
		must(t, "link", os.Link(a, b))
		sameInode(t, 2, a, b)

		// S3 sees two ordinary objects with the content.
		objectIs(t, l, "a", []byte("first"))
		objectIs(t, l, "sub/b", []byte("first"))
		res, err := l.ListObjects(context.Background(), testBucket, objstore.ListOptions{})
		must(t, "list", err)
		if len(res.Objects) != 3 { // a, sub/ (marker), sub/b
			t.Fatalf("listing: %+v", res.Objects)
		}

		// A write through one name is read through the other at once, and reaches both
		// objects at close.
		must(t, "write through b", os.WriteFile(b, []byte("second, longer"), 0o640))
		readIs(t, a, "second, longer")
		objectIs(t, l, "a", []byte("second, longer"))
		objectIs(t, l, "sub/b", []byte("second, longer"))
		must(t, "chmod through a", os.Chmod(a, 0o600))
		sameInode(t, 2, a, b)
		if st := statOf(t, b); st.Mode&0o777 != 0o600 {
			t.Fatalf("mode through b: %o", st.Mode)
		}

		// Unlinking one name keeps the file for the others; fstat shows the count fall.
		f, err := os.Open(a)
		must(t, "open", err)
		defer f.Close()
		must(t, "link c", os.Link(b, c))
		if n := fstatNlink(t, f); n != 3 {
			t.Fatalf("fstat after the second link: nlink %d", n)
		}
		must(t, "unlink b", os.Remove(b))
		if n := fstatNlink(t, f); n != 2 {
			t.Fatalf("fstat after unlinking b: nlink %d", n)
		}
		sameInode(t, 2, a, c)
		must(t, "unlink a", os.Remove(a))
		if n := fstatNlink(t, f); n != 1 {
			t.Fatalf("fstat after unlinking a: nlink %d", n)
		}
		readIs(t, c, "second, longer")
		objectIs(t, l, "c", []byte("second, longer"))
		if _, err := l.StatObject(context.Background(), testBucket, "a"); err == nil {
			t.Fatal("object a still there after its unlink")
		}

		// A rename of one name keeps the group.
		must(t, "link d", os.Link(c, filepath.Join(dir, "d")))
		must(t, "rename d", os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "sub", "e")))
		sameInode(t, 2, c, filepath.Join(dir, "sub", "e"))
	})
}

// TestHardLinksFromS3 checks that an S3 PUT or DELETE of one name touches that name only,
// and that an S3 copy of a name is a file of its own.
func TestHardLinksFromS3(t *testing.T) {
	l, dir := setup(t, 4)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	must(t, "write", os.WriteFile(a, []byte("linked"), 0o644))
	must(t, "link b", os.Link(a, b))
	must(t, "link c", os.Link(a, c))
	sameInode(t, 3, a, b, c)

	putObject(t, l, "b", []byte("from S3"), nil)
	readIs(t, b, "from S3")
	readIs(t, a, "linked")
	sameInode(t, 2, a, c)
	if sa, sb := statOf(t, a), statOf(t, b); sb.Ino == sa.Ino || sb.Nlink != 1 {
		t.Fatalf("b after the S3 put: ino %d nlink %d; a's ino %d", sb.Ino, sb.Nlink, sa.Ino)
	}

	must(t, "S3 delete", l.DeleteObject(context.Background(), testBucket, "c"))
	if _, err := os.Stat(c); !os.IsNotExist(err) {
		t.Fatalf("c after the S3 delete: %v", err)
	}
	readIs(t, a, "linked")
	sameInode(t, 1, a)

	must(t, "link d", os.Link(a, filepath.Join(dir, "d")))
	_, err := l.CopyObject(context.Background(), objstore.ObjectRef{Bucket: testBucket, Key: "d"},
		objstore.ObjectRef{Bucket: testBucket, Key: "copy"}, objstore.CopyOptions{})
	must(t, "S3 copy", err)
	readIs(t, filepath.Join(dir, "copy"), "linked")
	sameInode(t, 2, a, filepath.Join(dir, "d"))
	if st := statOf(t, filepath.Join(dir, "copy")); st.Nlink != 1 || st.Ino == statOf(t, a).Ino {
		t.Fatalf("an S3 copy of a linked name: ino %d nlink %d", st.Ino, st.Nlink)
	}
}

// TestHardLinksRemount checks that links survive a remount, a directory rename included:
// both names are one inode again and a write through one is read through the other.
func TestHardLinksRemount(t *testing.T) {
	dir, remount := remountable(t)
	must(t, "mkdir", os.MkdirAll(filepath.Join(dir, "snap.0", "deep"), 0o755))
	must(t, "write", os.WriteFile(filepath.Join(dir, "snap.0", "deep", "f"), []byte("kept"), 0o644))
	must(t, "mkdir", os.Mkdir(filepath.Join(dir, "snap.1"), 0o755))
	must(t, "link", os.Link(filepath.Join(dir, "snap.0", "deep", "f"), filepath.Join(dir, "snap.1", "f")))
	// A snapshot rotation: the directory holding one name moves.
	must(t, "rename dir", os.Rename(filepath.Join(dir, "snap.0"), filepath.Join(dir, "snap.2")))
	x, y := filepath.Join(dir, "snap.2", "deep", "f"), filepath.Join(dir, "snap.1", "f")
	sameInode(t, 2, x, y)
	remount()
	// A listing first: readdirplus looks the names up from the listing's hints.
	for _, d := range []string{filepath.Dir(x), filepath.Dir(y)} {
		_, err := os.ReadDir(d)
		must(t, "readdir", err)
	}
	sameInode(t, 2, y, x)
	must(t, "write through y", os.WriteFile(y, []byte("changed after the remount"), 0o644))
	readIs(t, x, "changed after the remount")
}

// TestHardLinksUnlinkWhileStreaming unlinks the name a file streams into the core
// through (a write of several MiB): the stream cannot bring the name back, and the other
// name gets every byte.
func TestHardLinksUnlinkWhileStreaming(t *testing.T) {
	l, dir := setup(t, 1)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	must(t, "write", os.WriteFile(a, []byte("old"), 0o644))
	must(t, "link", os.Link(a, b))
	f, err := os.OpenFile(a, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, "open", err)
	defer f.Close()
	data := pattern(3<<20, 7)
	_, err = f.Write(data)
	must(t, "write", err)
	must(t, "unlink a", os.Remove(a))
	must(t, "close", f.Close())
	if _, err := l.StatObject(context.Background(), testBucket, "a"); !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatalf("object a after its unlink: %v", err)
	}
	objectIs(t, l, "b", data)
	if got, err := os.ReadFile(b); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("b: %d bytes, %v", len(got), err)
	}
	sameInode(t, 1, b)
}

// TestHardLinksGroupsReleased checks that a file left with one name is no longer held by
// the mount's map of link groups (which would keep it in memory for the mount's life).
func TestHardLinksGroupsReleased(t *testing.T) {
	l := newLayer(t, 1)
	must(t, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	mnt, srv := mountServer(t, l, Options{})
	dir := filepath.Join(mnt, testBucket)
	must(t, "write", os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644))
	must(t, "link", os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
	if n := srv.groupCount(); n != 1 {
		t.Fatalf("%d link groups after a link, want 1", n)
	}
	must(t, "unlink", os.Remove(filepath.Join(dir, "b")))
	if n := srv.groupCount(); n != 0 {
		t.Fatalf("%d link groups after the unlink of the second name, want 0", n)
	}
}

// groupCount returns how many link groups the mount's map holds.
func (s *Server) groupCount() int {
	g := &s.fsys.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.nodes)
}
