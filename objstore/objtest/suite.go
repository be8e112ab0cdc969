// Package objtest is the conformance suite of objstore.ObjectLayer: every implementation
// and every layout (one drive, 4 drives, 16 drives, several sets) must pass it. Tests check
// content byte for byte and errors with errors.Is.
package objtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// Run runs the suite; newLayer returns a new, empty object layer for each test.
func Run(t *testing.T, newLayer func(t *testing.T) objstore.ObjectLayer) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l objstore.ObjectLayer)
	}{
		{"Buckets", testBuckets},
		{"PutGetSizes", testPutGetSizes},
		{"UnknownSize", testUnknownSize},
		{"Ranges", testRanges},
		{"Overwrite", testOverwrite},
		{"HandleOutlivesOverwrite", testHandleOutlivesOverwrite},
		{"Delete", testDelete},
		{"BadBodies", testBadBodies},
		{"BadKeys", testBadKeys},
		{"Preconditions", testPreconditions},
		{"Copy", testCopy},
		{"ListPaging", testListPaging},
		{"ListDelimiters", testListDelimiters},
		{"Multipart", testMultipart},
		{"MultipartErrors", testMultipartErrors},
		{"ListUploads", testListUploads},
		{"Rename", testRename},
		{"UpdateMetadata", testUpdateMetadata},
		{"ChangeFeed", testChangeFeed},
		{"ConcurrentNoTornReads", testConcurrentNoTorn},
		{"WriterDoesNotBlock", testWriterDoesNotBlock},
		{"PreconditionsAtCommit", testPreconditionsAtCommit},
		{"PartDoesNotBlockUpload", testPartDoesNotBlockUpload},
		{"StorageInfo", testStorageInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newLayer(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func bucket(t *testing.T, l objstore.ObjectLayer) string {
	t.Helper()
	must(t, "MakeBucket", l.MakeBucket(ctx(t), "test-bucket", objstore.MakeBucketOptions{}))
	return "test-bucket"
}

// data returns n deterministic pseudo-random bytes.
func data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func put(t *testing.T, l objstore.ObjectLayer, b, k string, content []byte) objstore.ObjectInfo {
	t.Helper()
	info, err := l.PutObject(ctx(t), b, k, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{})
	must(t, "PutObject "+k, err)
	return info
}

// get reads a whole object through every read path the handle has and checks they agree.
func get(t *testing.T, l objstore.ObjectLayer, b, k string) []byte {
	t.Helper()
	h, err := l.OpenObject(ctx(t), b, k)
	must(t, "OpenObject "+k, err)
	defer h.Close()
	var buf bytes.Buffer
	n, err := h.WriteRange(ctx(t), &buf, 0, h.Info().Size)
	must(t, "WriteRange "+k, err)
	if n != h.Info().Size {
		t.Fatalf("WriteRange wrote %d of %d bytes", n, h.Info().Size)
	}
	viaReadAt := make([]byte, h.Info().Size)
	if _, err := io.ReadFull(io.NewSectionReader(h, 0, h.Info().Size), viaReadAt); err != nil {
		t.Fatalf("ReadAt of %s: %v", k, err)
	}
	if !bytes.Equal(viaReadAt, buf.Bytes()) {
		t.Fatalf("ReadAt and WriteRange of %s disagree", k)
	}
	if br, ok := h.(objstore.BufferReader); ok {
		size := h.Info().Size
		viaReadInto := make([]byte, size)
		if n, err := br.ReadInto(ctx(t), viaReadInto, 0); err != nil || n != size {
			t.Fatalf("ReadInto of %s: %d of %d bytes, %v", k, n, size, err)
		}
		if !bytes.Equal(viaReadInto, buf.Bytes()) {
			t.Fatalf("ReadInto and WriteRange of %s disagree", k)
		}
		if size > 2 {
			// A range that starts and ends inside blocks (and parts, when there are several).
			p := make([]byte, size-2)
			if _, err := br.ReadInto(ctx(t), p, 1); err != nil || !bytes.Equal(p, viaReadInto[1:size-1]) {
				t.Fatalf("ReadInto of %s [1,%d): %v, or other bytes", k, size-1, err)
			}
		}
		if _, err := br.ReadInto(ctx(t), make([]byte, 1), size); !errors.Is(err, objstore.ErrInvalidRange) {
			t.Fatalf("ReadInto of %s past its end: %v, want ErrInvalidRange", k, err)
		}
	}
	return buf.Bytes()
}

func checkContent(t *testing.T, l objstore.ObjectLayer, b, k string, want []byte) {
	t.Helper()
	got := get(t, l, b, k)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: read %d bytes (md5 %s), want %d bytes (md5 %s)", k, len(got), md5hex(got), len(want), md5hex(want))
	}
}
