package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
)

// TestNothingStagedLeftBehind runs the writes that stage data and then do not commit it (a
// lost precondition, a part of an upload completed meanwhile, a client gone mid-body, a
// bucket deleted meanwhile) and the writes that race to commit one key, and checks that no
// drive's staging area keeps anything and that the key holds one whole object.
func TestNothingStagedLeftBehind(t *testing.T) {
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")},
		Parity: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const b = "staging"
	if err := d.MakeBucket(c, b, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	big := randomBytes(2<<20+5, 7)

	// A conditional create that loses to another writer at its commit.
	pr, pw := io.Pipe()
	lost := make(chan error, 1)
	go func() {
		_, err := d.PutObject(c, b, "created", pr, int64(len(big)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfNoneMatch: true}})
		lost <- err
	}()
	if _, err := pw.Write(big[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject(c, b, "created", bytes.NewReader(big[:100]), 100, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(big[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-lost; !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("conditional create after another writer's commit: %v, want ErrPreconditionFailed", err)
	}

	checkStagingEmpty(t, dir, 4, "a lost conditional create")

	// A client that goes away halfway through its body.
	pr, pw = io.Pipe()
	gone := make(chan error, 1)
	go func() {
		_, err := d.PutObject(c, b, "gone", pr, int64(len(big)), objstore.PutOptions{})
		gone <- err
	}()
	if _, err := pw.Write(big[:1<<20]); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-gone; err == nil {
		t.Fatal("a put whose body failed succeeded")
	}

	checkStagingEmpty(t, dir, 4, "a client gone mid-body")

	// A part that arrives after its upload was completed.
	id, err := d.NewMultipartUpload(c, b, "parts", objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := d.PutObjectPart(c, b, "parts", id, 1, bytes.NewReader(big), int64(len(big)), objstore.PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw = io.Pipe()
	late := make(chan error, 1)
	go func() {
		_, err := d.PutObjectPart(c, b, "parts", id, 2, pr, int64(len(big)), objstore.PartOptions{})
		late <- err
	}()
	if _, err := pw.Write(big[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CompleteMultipartUpload(c, b, "parts", id, []objstore.CompletePart{{Number: 1, ETag: p1.ETag}}, objstore.CompleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(big[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-late; !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("part of a completed upload: %v, want ErrNoSuchUpload", err)
	}

	checkStagingEmpty(t, dir, 4, "a part of a completed upload")

	// Eight writers of one key at once: each succeeds, and the key holds one of them whole.
	var wg sync.WaitGroup
	bodies := make([][]byte, 8)
	errs := make([]error, len(bodies))
	for i := range bodies {
		bodies[i] = randomBytes(300<<10+i, uint64(100+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.PutObject(c, b, "contended", bytes.NewReader(bodies[i]), int64(len(bodies[i])), objstore.PutOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got := readAll(t, c, d, b, "contended")
	whole := false
	for _, body := range bodies {
		whole = whole || bytes.Equal(got, body)
	}
	if !whole {
		t.Fatalf("the contended key holds %d bytes that are none of its writers' bodies", len(got))
	}

	checkStagingEmpty(t, dir, 4, "eight writers of one key")

	// A bucket removed while a write to it was arriving.
	if err := d.MakeBucket(c, "doomed", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	pr, pw = io.Pipe()
	orphan := make(chan error, 1)
	go func() {
		_, err := d.PutObject(c, "doomed", "k", pr, int64(len(big)), objstore.PutOptions{})
		orphan <- err
	}()
	if _, err := pw.Write(big[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteBucket(c, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(big[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-orphan; !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("put into a bucket deleted meanwhile: %v, want ErrBucketNotFound", err)
	}

	checkStagingEmpty(t, dir, 4, "a put into a bucket deleted meanwhile")
}

// checkStagingEmpty fails the test if the staging area of a drive dir/d1..dir/dN holds
// anything after what.
func checkStagingEmpty(t *testing.T, dir string, drives int, after string) {
	t.Helper()
	for i := 1; i <= drives; i++ {
		tmp := filepath.Join(dir, fmt.Sprintf("d%d", i), storage.SysVolume, "tmp")
		entries, err := os.ReadDir(tmp)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("drive %d: %s left in the staging area after %s", i, e.Name(), after)
		}
	}
}

func readAll(t *testing.T, ctx context.Context, l objstore.ObjectLayer, b, k string) []byte {
	t.Helper()
	h, err := l.OpenObject(ctx, b, k)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var buf bytes.Buffer
	if _, err := h.WriteRange(ctx, &buf, 0, h.Info().Size); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHealDoesNotBlockKey stops a heal in the middle of rebuilding a drive's shard and
// reads the key meanwhile: the heal holds no lock then. Released, it commits the drive's
// copy; stopped again while the key is deleted, it finds its version gone and drops what it
// rebuilt.
func TestHealDoesNotBlockKey(t *testing.T) {
	dir := t.TempDir()
	g := &gate{}
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")},
		Parity: 2,
		WrapDrive: func(sd storage.Drive) storage.Drive {
			if strings.HasSuffix(sd.String(), "d1") {
				return gatedDrive{Drive: sd, g: g}
			}
			return sd
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const b = "heal"
	if err := d.MakeBucket(c, b, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	content := randomBytes(3<<20+11, 9)
	set := d.Sets()[0]
	for _, key := range []string{"kept", "deleted"} {
		if _, err := d.PutObject(c, b, key, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// The next file d1 creates is the heal's rebuilt shard.
		entered, release := g.arm("CreateFile")
		if err := os.RemoveAll(filepath.Join(dir, "d1", b, layout.DataDir)); err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			res erasureset.HealResult
			err error
		}
		healed := make(chan outcome, 1)
		go func() {
			res, err := set.HealObject(c, b, key, false)
			healed <- outcome{res, err}
		}()
		select {
		case <-entered:
		case <-time.After(time.Minute):
			t.Fatal("the heal did not start rebuilding d1's shard")
		}
		within := func(what string, op func(ctx context.Context) error) {
			t.Helper()
			ctx, cancel := context.WithTimeout(c, 20*time.Second)
			defer cancel()
			if err := op(ctx); err != nil {
				t.Fatalf("%s while a heal of the key is halfway: %v", what, err)
			}
		}
		within("GET", func(ctx context.Context) error {
			if got := readAll(t, ctx, d, b, key); !bytes.Equal(got, content) {
				t.Fatalf("GET during the heal: %d bytes, not the object", len(got))
			}
			_, err := d.StatObject(ctx, b, key)
			return err
		})
		if key == "deleted" {
			within("DeleteObject", func(ctx context.Context) error { return d.DeleteObject(ctx, b, key) })
		}
		close(release)
		o := <-healed
		if o.err != nil {
			t.Fatalf("heal of %s: %v", key, o.err)
		}
		switch {
		case key == "kept" && !slices.Equal(o.res.Healed, []int{0}):
			t.Fatalf("heal of an unchanged key healed drives %v, want [0]", o.res.Healed)
		case key == "deleted" && len(o.res.Healed) != 0:
			t.Fatalf("heal of a key deleted meanwhile healed drives %v", o.res.Healed)
		}
		checkStagingEmpty(t, dir, 4, "the heal of "+key)
	}
	if got := readAll(t, c, d, b, "kept"); !bytes.Equal(got, content) {
		t.Fatal("the healed object reads back wrong")
	}
}

// TestRenameAcrossSetsDoesNotBlock stops a rename between two erasure sets in the middle of
// its copy and meanwhile reads both keys and overwrites the source: nothing waits for the
// copy, and the rename, released, sees that its source changed, copies it again and moves
// the new content.
func TestRenameAcrossSetsDoesNotBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("32 drives in -short")
	}
	dir := t.TempDir()
	g := &gate{}
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives:    []string{filepath.Join(dir, "d{1...32}")},
		Parity:    2,
		WrapDrive: func(sd storage.Drive) storage.Drive { return gatedDrive{Drive: sd, g: g} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const b = "rename"
	if err := d.MakeBucket(c, b, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	src := "src"
	dst := keyInOtherSet(t, d, src, "dst-")
	old, fresh := randomBytes(2<<20+3, 21), randomBytes(1<<20+5, 22)
	if _, err := d.PutObject(c, b, src, bytes.NewReader(old), int64(len(old)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// The first file the rename's copy creates holds it, halfway.
	entered, release := g.arm("CreateFile")
	renamed := make(chan error, 1)
	go func() {
		_, err := d.RenameObject(c, b, src, dst, objstore.RenameOptions{})
		renamed <- err
	}()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the rename did not start copying")
	}
	ctx, cancelOps := context.WithTimeout(c, 20*time.Second)
	defer cancelOps()
	if got := readAll(t, ctx, d, b, src); !bytes.Equal(got, old) {
		t.Fatalf("source during the rename: %d bytes, not the object", len(got))
	}
	if _, err := d.StatObject(ctx, b, dst); !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatalf("destination during the rename: %v, want ErrObjectNotFound", err)
	}
	if _, err := d.PutObject(ctx, b, src, bytes.NewReader(fresh), int64(len(fresh)), objstore.PutOptions{}); err != nil {
		t.Fatalf("overwriting the source during the rename: %v", err)
	}
	close(release)
	if err := <-renamed; err != nil {
		t.Fatalf("rename: %v", err)
	}
	if got := readAll(t, c, d, b, dst); !bytes.Equal(got, fresh) {
		t.Fatalf("destination after the rename: %d bytes, not the source's content at the rename's commit", len(got))
	}
	if _, err := d.StatObject(c, b, src); !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatalf("source after the rename: %v, want ErrObjectNotFound", err)
	}
	checkStagingEmpty(t, dir, 32, "a rename across sets")
}
