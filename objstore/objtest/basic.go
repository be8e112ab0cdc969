package objtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

func testBuckets(t *testing.T, l objstore.ObjectLayer) {
	c := ctx(t)
	for _, b := range []string{"zeta", "alpha", "mid.dle"} {
		must(t, "MakeBucket "+b, l.MakeBucket(c, b, objstore.MakeBucketOptions{}))
	}
	mustIs(t, "MakeBucket twice", l.MakeBucket(c, "alpha", objstore.MakeBucketOptions{}), objstore.ErrBucketExists)
	for _, bad := range []string{"A", "ab", "has_underscore", "-x-", "192.168.0.1", strings.Repeat("a", 64)} {
		mustIs(t, "MakeBucket "+bad, l.MakeBucket(c, bad, objstore.MakeBucketOptions{}), objstore.ErrInvalidBucketName)
	}
	list, err := l.ListBuckets(c)
	must(t, "ListBuckets", err)
	var names []string
	for _, b := range list {
		names = append(names, b.Name)
		if b.Created.IsZero() {
			t.Errorf("bucket %s has no creation time", b.Name)
		}
	}
	if !slices.Equal(names, []string{"alpha", "mid.dle", "zeta"}) {
		t.Fatalf("ListBuckets = %q", names)
	}
	_, err = l.GetBucketInfo(c, "nope")
	mustIs(t, "GetBucketInfo of a missing bucket", err, objstore.ErrBucketNotFound)
	put(t, l, "alpha", "deep/key", []byte("x"))
	mustIs(t, "DeleteBucket with an object", l.DeleteBucket(c, "alpha"), objstore.ErrBucketNotEmpty)
	must(t, "DeleteObject", l.DeleteObject(c, "alpha", "deep/key"))
	must(t, "DeleteBucket", l.DeleteBucket(c, "alpha"))
	mustIs(t, "DeleteBucket twice", l.DeleteBucket(c, "alpha"), objstore.ErrBucketNotFound)
	_, err = l.PutObject(c, "alpha", "k", strings.NewReader("x"), 1, objstore.PutOptions{})
	mustIs(t, "PutObject into a deleted bucket", err, objstore.ErrBucketNotFound)
	_, err = l.StatObject(c, "Bad_Name", "k")
	mustIs(t, "StatObject in an invalid bucket name", err, objstore.ErrBucketNotFound)
}

// sizes straddle every boundary of the layout: empty, inline limit, stripe size.
var sizes = []int{0, 1, 15, 4096, 128<<10 - 1, 128 << 10, 128<<10 + 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 12345}

func testPutGetSizes(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for i, n := range sizes {
		key := fmt.Sprintf("obj-%d", n)
		content := data(n, uint64(i))
		md := map[string]string{"content-type": "application/x-test", "x-amz-meta-size": fmt.Sprint(n)}
		info, err := l.PutObject(ctx(t), b, key, bytes.NewReader(content), int64(n), objstore.PutOptions{Metadata: md})
		must(t, "PutObject", err)
		if info.Size != int64(n) || info.ETag != md5hex(content) {
			t.Fatalf("PutObject(%d bytes) = size %d etag %s, want etag %s", n, info.Size, info.ETag, md5hex(content))
		}
		st, err := l.StatObject(ctx(t), b, key)
		must(t, "StatObject", err)
		if st.Size != int64(n) || st.ETag != info.ETag || st.ContentType() != "application/x-test" || st.Metadata["x-amz-meta-size"] != fmt.Sprint(n) {
			t.Fatalf("StatObject = %+v", st)
		}
		if !st.ModTime.Equal(info.ModTime) {
			t.Fatalf("StatObject mod time %v, put said %v", st.ModTime, info.ModTime)
		}
		checkContent(t, l, b, key, content)
	}
}

func testUnknownSize(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for i, n := range []int{0, 100, 128 << 10, 128<<10 + 1, 2<<20 + 7} {
		content := data(n, uint64(100+i))
		key := fmt.Sprintf("unknown-%d", n)
		// A reader that hides its length, returning odd-sized chunks.
		info, err := l.PutObject(ctx(t), b, key, &chunky{r: bytes.NewReader(content)}, -1, objstore.PutOptions{})
		must(t, "PutObject of unknown size", err)
		if info.Size != int64(n) || info.ETag != md5hex(content) {
			t.Fatalf("unknown size %d: got size %d", n, info.Size)
		}
		checkContent(t, l, b, key, content)
	}
}

// chunky returns at most 7777 bytes per Read.
type chunky struct{ r io.Reader }

func (c *chunky) Read(p []byte) (int, error) {
	if len(p) > 7777 {
		p = p[:7777]
	}
	return c.r.Read(p)
}

func testRanges(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for _, n := range []int{100 << 10, 3<<20 + 5} {
		content := data(n, 7)
		key := fmt.Sprintf("ranges-%d", n)
		put(t, l, b, key, content)
		h, err := l.OpenObject(ctx(t), b, key)
		must(t, "OpenObject", err)
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 60; i++ {
			off := r.IntN(n)
			length := r.IntN(min(n-off, 1<<21) + 1)
			buf := make([]byte, length)
			got, err := h.ReadAt(buf, int64(off))
			if err != nil && !(err == io.EOF && off+length == n) {
				t.Fatalf("ReadAt(%d, %d): %d, %v", length, off, got, err)
			}
			if !bytes.Equal(buf[:got], content[off:off+got]) || got != length {
				t.Fatalf("ReadAt(%d, %d) returned wrong bytes (%d read)", length, off, got)
			}
			var w bytes.Buffer
			if _, err := h.WriteRange(ctx(t), &w, int64(off), int64(length)); err != nil || !bytes.Equal(w.Bytes(), content[off:off+length]) {
				t.Fatalf("WriteRange(%d, %d): %v", off, length, err)
			}
		}
		if _, err := h.ReadAt(make([]byte, 1), int64(n)); err != io.EOF {
			t.Fatalf("ReadAt at the end: %v, want io.EOF", err)
		}
		if n, err := h.ReadAt(make([]byte, 10), int64(n-4)); n != 4 || err != io.EOF {
			t.Fatalf("ReadAt across the end: %d, %v", n, err)
		}
		_, err = h.WriteRange(ctx(t), io.Discard, int64(n-1), 2)
		mustIs(t, "WriteRange past the end", err, objstore.ErrInvalidRange)
		must(t, "Close", h.Close())
	}
}

func testOverwrite(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	versions := [][]byte{data(2<<20, 1), []byte("small now"), data(300<<10, 2), nil, data(1<<20+1, 3)}
	for _, v := range versions {
		put(t, l, b, "key", v)
		checkContent(t, l, b, "key", v)
	}
}

func testHandleOutlivesOverwrite(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	old := data(2<<20+17, 11)
	put(t, l, b, "k", old)
	h, err := l.OpenObject(ctx(t), b, "k")
	must(t, "OpenObject", err)
	defer h.Close()
	put(t, l, b, "k", data(3<<20, 12))
	must(t, "DeleteObject", l.DeleteObject(ctx(t), b, "k"))
	got := make([]byte, len(old))
	if _, err := h.ReadAt(got, 0); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("a handle opened before an overwrite and a delete lost its version: %v", err)
	}
}

func testDelete(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	put(t, l, b, "a/b/c", data(1<<20+3, 1))
	put(t, l, b, "a/x", []byte("inline"))
	must(t, "DeleteObject", l.DeleteObject(ctx(t), b, "a/b/c"))
	_, err := l.StatObject(ctx(t), b, "a/b/c")
	mustIs(t, "StatObject after delete", err, objstore.ErrObjectNotFound)
	_, err = l.OpenObject(ctx(t), b, "a/b/c")
	mustIs(t, "OpenObject after delete", err, objstore.ErrObjectNotFound)
	mustIs(t, "DeleteObject of a missing key", l.DeleteObject(ctx(t), b, "a/b/c"), objstore.ErrObjectNotFound)
	errs := l.DeleteObjects(ctx(t), b, []string{"a/x", "never"})
	if errs[0] != nil || !errors.Is(errs[1], objstore.ErrObjectNotFound) {
		t.Fatalf("DeleteObjects = %v", errs)
	}
	res, err := l.ListObjects(ctx(t), b, objstore.ListOptions{})
	must(t, "ListObjects", err)
	if len(res.Objects)+len(res.Prefixes) != 0 {
		t.Fatalf("after deleting everything, ListObjects = %+v", res)
	}
}

// failAtEOF returns its bytes, then err instead of io.EOF, as a body whose signature check
// fails at the end does.
type failAtEOF struct {
	r   io.Reader
	err error
}

func (f *failAtEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testBadBodies(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for _, n := range []int{10, 200 << 10, 2<<20 + 1} {
		key := fmt.Sprintf("bad-%d", n)
		good := data(n, 5)
		put(t, l, b, key, good)
		bad := errors.New("x-amz-content-sha256 mismatch")
		_, err := l.PutObject(ctx(t), b, key, &failAtEOF{r: bytes.NewReader(data(n, 6)), err: bad}, int64(n), objstore.PutOptions{})
		mustIs(t, "PutObject whose body fails at EOF", err, bad)
		_, err = l.PutObject(ctx(t), b, key, &failAtEOF{r: bytes.NewReader(data(n, 6)), err: bad}, -1, objstore.PutOptions{})
		mustIs(t, "PutObject of unknown size whose body fails at EOF", err, bad)
		_, err = l.PutObject(ctx(t), b, key, bytes.NewReader(data(n-1, 6)), int64(n), objstore.PutOptions{})
		mustIs(t, "PutObject of a short body", err, objstore.ErrIncompleteBody)
		_, err = l.PutObject(ctx(t), b, key, bytes.NewReader(data(n+1, 6)), int64(n), objstore.PutOptions{})
		mustIs(t, "PutObject of a long body", err, objstore.ErrEntityTooLarge)
		checkContent(t, l, b, key, good)
	}
}

func testBadKeys(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	tests := []struct {
		key  string
		want error
	}{
		{strings.Repeat("k", 1025), objstore.ErrKeyTooLong},
		{"nul\x00key", objstore.ErrInvalidObjectName},
		{"bad\xffutf8", objstore.ErrInvalidObjectName},
		{"", objstore.ErrInvalidObjectName},
		{"a/" + strings.Repeat("s", 254), objstore.ErrNameTooLong},
	}
	for _, tt := range tests {
		_, err := l.PutObject(c, b, tt.key, strings.NewReader("x"), 1, objstore.PutOptions{})
		mustIs(t, fmt.Sprintf("PutObject(%.20q)", tt.key), err, tt.want)
		_, err = l.StatObject(c, b, tt.key)
		mustIs(t, fmt.Sprintf("StatObject(%.20q)", tt.key), err, tt.want)
	}
	awkward := []string{"..", "../../etc/passwd", "a//b", "/lead", "dir/", "%", "%2E", "sp ace", "日本/語", strings.Repeat("d/", 511) + "x", strings.Repeat("n", 253)}
	for i, k := range awkward {
		put(t, l, b, k, []byte(fmt.Sprint(i)))
	}
	res, err := l.ListObjects(c, b, objstore.ListOptions{MaxKeys: 1000})
	must(t, "ListObjects", err)
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.Key)
	}
	want := slices.Clone(awkward)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ListObjects of awkward keys:\n got %q\nwant %q", got, want)
	}
	for i, k := range awkward {
		checkContent(t, l, b, k, []byte(fmt.Sprint(i)))
	}
}

func testPreconditions(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	only := objstore.PutOptions{Preconditions: objstore.Preconditions{IfNoneMatch: true}}
	_, err := l.PutObject(c, b, "k", strings.NewReader("first"), 5, only)
	must(t, "PutObject If-None-Match on a new key", err)
	_, err = l.PutObject(c, b, "k", strings.NewReader("again"), 5, only)
	mustIs(t, "PutObject If-None-Match on an existing key", err, objstore.ErrPreconditionFailed)
	ifMatch := func(etag string) objstore.PutOptions {
		return objstore.PutOptions{Preconditions: objstore.Preconditions{IfMatch: etag}}
	}
	_, err = l.PutObject(c, b, "k", strings.NewReader("third"), 5, ifMatch(`"0123"`))
	mustIs(t, "PutObject If-Match with another ETag", err, objstore.ErrPreconditionFailed)
	_, err = l.PutObject(c, b, "k", strings.NewReader("third"), 5, ifMatch(`"`+md5hex([]byte("first"))+`"`))
	must(t, "PutObject If-Match with the ETag", err)
	checkContent(t, l, b, "k", []byte("third"))
	_, err = l.PutObject(c, b, "missing", strings.NewReader("x"), 1, ifMatch("*"))
	mustIs(t, "PutObject If-Match on a missing key", err, objstore.ErrObjectNotFound)
}

func testCopy(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	must(t, "MakeBucket", l.MakeBucket(c, "other", objstore.MakeBucketOptions{}))
	content := data(2<<20+99, 21)
	_, err := l.PutObject(c, b, "src", bytes.NewReader(content), int64(len(content)), objstore.PutOptions{Metadata: map[string]string{"x-amz-meta-a": "1"}})
	must(t, "PutObject", err)
	info, err := l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "src"}, objstore.ObjectRef{Bucket: "other", Key: "dst"}, objstore.CopyOptions{})
	must(t, "CopyObject", err)
	if info.ETag != md5hex(content) || info.Metadata["x-amz-meta-a"] != "1" {
		t.Fatalf("CopyObject = %+v", info)
	}
	checkContent(t, l, "other", "dst", content)
	info, err = l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "src"}, objstore.ObjectRef{Bucket: b, Key: "src"},
		objstore.CopyOptions{ReplaceMetadata: true, Metadata: map[string]string{"x-amz-meta-b": "2"}})
	must(t, "CopyObject onto itself", err)
	if _, ok := info.Metadata["x-amz-meta-a"]; ok || info.Metadata["x-amz-meta-b"] != "2" {
		t.Fatalf("REPLACE kept old metadata: %+v", info.Metadata)
	}
	checkContent(t, l, b, "src", content)
	_, err = l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "src"}, objstore.ObjectRef{Bucket: b, Key: "part"},
		objstore.CopyOptions{Range: &objstore.Range{Offset: 1<<20 - 5, Length: 1000}})
	must(t, "CopyObject of a range", err)
	checkContent(t, l, b, "part", content[1<<20-5:1<<20-5+1000])
	stop := errors.New("copy-source-if-match failed")
	_, err = l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "src"}, objstore.ObjectRef{Bucket: b, Key: "never"},
		objstore.CopyOptions{SrcCheck: func(objstore.ObjectInfo) error { return stop }})
	mustIs(t, "CopyObject whose source check fails", err, stop)
	_, err = l.StatObject(c, b, "never")
	mustIs(t, "the refused copy wrote", err, objstore.ErrObjectNotFound)
	_, err = l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "nope"}, objstore.ObjectRef{Bucket: b, Key: "x"}, objstore.CopyOptions{})
	mustIs(t, "CopyObject of a missing source", err, objstore.ErrObjectNotFound)
}
