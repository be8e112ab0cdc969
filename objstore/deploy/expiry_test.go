package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

// clock is a settable clock for the deployment.
type clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const expiryBucket = "expiry"

// openExpiry opens n drives with the clock clk and the expiry opts, with a bucket.
func openExpiry(t *testing.T, n int, clk *clock, opts deploy.UploadExpiryOptions) (*deploy.Deployment, []string) {
	t.Helper()
	dir := t.TempDir()
	dep, err := deploy.Open(context.Background(), deploy.Config{
		Drives:       []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", n))},
		Parity:       -1,
		Now:          clk.Now,
		UploadExpiry: opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dep.Close)
	if err := dep.MakeBucket(context.Background(), expiryBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	drives := make([]string, n)
	for i := range drives {
		drives[i] = filepath.Join(dir, fmt.Sprintf("d%d", i+1))
	}
	return dep, drives
}

// startUploads starts n uploads under prefix, each with two parts of 100 KiB and 1 KiB.
func startUploads(t *testing.T, dep *deploy.Deployment, prefix string, n int) []string {
	t.Helper()
	c := context.Background()
	ids := make([]string, n)
	for i := range ids {
		key := fmt.Sprintf("%s/%d", prefix, i)
		id, err := dep.NewMultipartUpload(c, expiryBucket, key, objstore.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for part, size := range []int{100 << 10, 1 << 10} {
			body := bytes.Repeat([]byte{byte(i)}, size)
			if _, err := dep.PutObjectPart(c, expiryBucket, key, id, part+1, bytes.NewReader(body), int64(size), objstore.PartOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ids[i] = id
	}
	return ids
}

// uploadFiles returns, per upload id, how many files the drives hold under the multipart
// directory of the system volume (records and part shards alike).
func uploadFiles(t *testing.T, drives []string) map[string]int {
	t.Helper()
	files := make(map[string]int)
	for _, d := range drives {
		root := filepath.Join(d, storage.SysVolume, "multipart")
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			parts := strings.Split(rel, string(filepath.Separator)) // bucket, key hash, id, ...
			if len(parts) < 4 {
				t.Errorf("stray file %s", p)
				return nil
			}
			files[parts[2]]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// listedUploads returns the ids ListMultipartUploads lists, sorted.
func listedUploads(t *testing.T, dep *deploy.Deployment) []string {
	t.Helper()
	res, err := dep.ListMultipartUploads(context.Background(), expiryBucket, objstore.ListUploadsOptions{MaxUploads: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range res.Uploads {
		ids = append(ids, u.UploadID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...[]string) []string {
	out := slices.Concat(ids...)
	slices.Sort(out)
	return out
}

// expirePass runs one pass and checks how many uploads it removed.
func expirePass(t *testing.T, dep *deploy.Deployment, want int) {
	t.Helper()
	n, err := dep.ExpireUploadsOnce(context.Background())
	if err != nil || n != want {
		t.Fatalf("expiry pass removed %d uploads (%v), want %d", n, err, want)
	}
}

// TestUploadExpiry ages uploads with the deployment's clock: a pass removes those older than
// the age from every drive, at most MaxPerPass of them, keeps the younger ones, and counts
// what it removed.
func TestUploadExpiry(t *testing.T) {
	for _, n := range []int{1, 4, 16} {
		t.Run(fmt.Sprintf("%ddrives", n), func(t *testing.T) {
			if testing.Short() && n > 4 {
				t.Skip("many-drive layouts skipped in -short")
			}
			clk := newClock()
			reported := 0
			dep, drives := openExpiry(t, n, clk, deploy.UploadExpiryOptions{
				MaxPerPass: 4, Pause: -1,
				Report: func(removed int) { reported += removed },
			})
			old := startUploads(t, dep, "old", 6)
			clk.advance(20 * time.Hour)
			young := startUploads(t, dep, "young", 3)
			clk.advance(5 * time.Hour) // old: 25h, young: 5h

			files := uploadFiles(t, drives)
			for _, id := range sorted(old, young) {
				if files[id] < 4*n { // the record, two part records and two shards per drive
					t.Fatalf("upload %s has %d files on %d drives before the expiry", id, files[id], n)
				}
			}
			expirePass(t, dep, 4) // MaxPerPass
			expirePass(t, dep, 2)
			expirePass(t, dep, 0)
			if got, want := listedUploads(t, dep), sorted(young); !slices.Equal(got, want) {
				t.Fatalf("after the expiry of the old uploads, listed %v, want %v", got, want)
			}
			files = uploadFiles(t, drives)
			for _, id := range old {
				if files[id] != 0 {
					t.Errorf("expired upload %s left %d files on the drives", id, files[id])
				}
			}
			for _, id := range young {
				if files[id] < 4*n {
					t.Errorf("young upload %s has %d files left, want them all", id, files[id])
				}
			}
			// A young upload still completes.
			key := "young/0"
			last := completeAll(t, dep, key, young[0])[1:] // the first part is under 5 MiB
			if _, err := dep.CompleteMultipartUpload(context.Background(), expiryBucket, key, young[0], last, objstore.CompleteOptions{}); err != nil {
				t.Fatalf("completing a young upload after a pass: %v", err)
			}

			clk.advance(20 * time.Hour) // young: 25h
			expirePass(t, dep, 2)
			if got := listedUploads(t, dep); len(got) != 0 {
				t.Fatalf("listed %v after every upload expired", got)
			}
			if files := uploadFiles(t, drives); len(files) != 0 {
				t.Fatalf("files left on the drives after every upload expired: %v", files)
			}
			if reported != 8 {
				t.Fatalf("Report saw %d uploads removed, want 8", reported)
			}
			if _, err := dep.StatObject(context.Background(), expiryBucket, key); err != nil {
				t.Fatalf("the completed object: %v", err)
			}
		})
	}
}

// TestUploadExpiryMinority expires an upload that only one drive still holds (as an abort
// leaves it on a drive that was away): ListMultipartUploads does not show it, but its parts
// must not stay forever.
func TestUploadExpiryMinority(t *testing.T) {
	clk := newClock()
	dep, drives := openExpiry(t, 4, clk, deploy.UploadExpiryOptions{Pause: -1})
	ids := startUploads(t, dep, "minority", 1)
	for _, d := range drives[1:] {
		root := filepath.Join(d, storage.SysVolume, "multipart", expiryBucket)
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
	}
	if got := listedUploads(t, dep); len(got) != 0 {
		t.Fatalf("an upload on one drive of four is listed: %v", got)
	}
	expirePass(t, dep, 0) // not old yet
	if files := uploadFiles(t, drives); files[ids[0]] == 0 {
		t.Fatal("the young leftover was removed")
	}
	clk.advance(25 * time.Hour)
	expirePass(t, dep, 1)
	if files := uploadFiles(t, drives); len(files) != 0 {
		t.Fatalf("files left after the leftover expired: %v", files)
	}
}

// TestUploadExpiryDisabled checks that a negative age keeps every upload.
func TestUploadExpiryDisabled(t *testing.T) {
	clk := newClock()
	dep, _ := openExpiry(t, 4, clk, deploy.UploadExpiryOptions{Age: -1})
	ids := startUploads(t, dep, "kept", 2)
	clk.advance(1000 * time.Hour)
	expirePass(t, dep, 0)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	dep.RunUploadExpiry(c) // returns at once
	if got := listedUploads(t, dep); !slices.Equal(got, sorted(ids)) {
		t.Fatalf("listed %v, want %v", got, sorted(ids))
	}
}

// TestUploadExpiryRacesCompletion expires uploads while clients complete them, some after
// uploading their part again: each completion either succeeds with the whole object or
// answers ErrNoSuchUpload (and then leaves no object), and the pass counts exactly the
// uploads whose completion found none.
func TestUploadExpiryRacesCompletion(t *testing.T) {
	const n = 24
	clk := newClock()
	// The pause spreads the pass's removals out, so that completions come between them.
	dep, drives := openExpiry(t, 4, clk, deploy.UploadExpiryOptions{Pause: 10 * time.Millisecond})
	c := context.Background()
	ids := make([]string, n)
	etags := make([]string, n)
	for i := range ids {
		key := fmt.Sprintf("race/%d", i)
		id, err := dep.NewMultipartUpload(c, expiryBucket, key, objstore.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := dep.PutObjectPart(c, expiryBucket, key, id, 1, bytes.NewReader(partBody(i, 0)), int64(len(partBody(i, 0))), objstore.PartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i], etags[i] = id, p.ETag
	}
	clk.advance(25 * time.Hour)

	var wg sync.WaitGroup
	removed := make(chan int, 1)
	wg.Go(func() {
		n, err := dep.ExpireUploadsOnce(c)
		if err != nil {
			t.Errorf("expiry pass: %v", err)
		}
		removed <- n
	})
	// The completions start once the pass has removed its first upload, and spread out.
	for deadline := time.Now().Add(time.Minute); len(listedUploads(t, dep)) == n; {
		if time.Now().After(deadline) {
			t.Fatal("the pass removed nothing in a minute")
		}
		time.Sleep(time.Millisecond)
	}
	outcome := make([]error, n)
	for i := range ids {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 15 * time.Millisecond) // spread over the pass
			key := fmt.Sprintf("race/%d", i)
			etag := etags[i]
			if i%2 == 1 { // upload the part again, then complete with it
				body := partBody(i, 1)
				p, err := dep.PutObjectPart(c, expiryBucket, key, ids[i], 1, bytes.NewReader(body), int64(len(body)), objstore.PartOptions{})
				if err != nil {
					outcome[i] = err
					return
				}
				etag = p.ETag
			}
			_, outcome[i] = dep.CompleteMultipartUpload(c, expiryBucket, key, ids[i], []objstore.CompletePart{{Number: 1, ETag: etag}}, objstore.CompleteOptions{})
		})
	}
	wg.Wait()

	gone := 0
	for i, err := range outcome {
		key := fmt.Sprintf("race/%d", i)
		switch {
		case err == nil:
			h, err := dep.OpenObject(c, expiryBucket, key)
			if err != nil {
				t.Fatalf("%s completed but cannot be opened: %v", key, err)
			}
			got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
			h.Close()
			if want := partBody(i, i%2); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s completed with %d bytes (%v), want the %d bytes of its last part", key, len(got), err, len(want))
			}
		case errors.Is(err, objstore.ErrNoSuchUpload):
			gone++
			if _, err := dep.StatObject(c, expiryBucket, key); !errors.Is(err, objstore.ErrObjectNotFound) {
				t.Fatalf("%s: its upload expired, yet stat says %v", key, err)
			}
		default:
			t.Fatalf("%s: completion failed with %v, want success or ErrNoSuchUpload", key, err)
		}
	}
	if r := within(t, removed, "the pass"); r != gone {
		t.Fatalf("the pass removed %d uploads; %d completions found none", r, gone)
	}
	if got := listedUploads(t, dep); len(got) != 0 {
		t.Fatalf("uploads left: %v", got)
	}
	if files := uploadFiles(t, drives); len(files) != 0 {
		t.Fatalf("files left under multipart/: %v", files)
	}
	t.Logf("%d of %d uploads completed, %d expired", n-gone, n, gone)
}

// partBody is the content of upload i's part, in version v (0 or 1): more than a stripe, so
// that its shards are files of their own.
func partBody(i, v int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(v), 'x'}, 70_000+i)
}

// TestUploadExpiryWaitsForWriters holds a completion in its commit, and a part upload in
// the rename of its part, while a pass wants to remove their (old) uploads: the pass must
// wait for them. The completion then succeeds with the whole object and is not counted;
// the upload that got its part is removed afterwards, and its completion answers
// ErrNoSuchUpload.
func TestUploadExpiryWaitsForWriters(t *testing.T) {
	clk := newClock()
	g := &gate{}
	dir := t.TempDir()
	first := true
	dep, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")}, Parity: -1, Now: clk.Now,
		UploadExpiry: deploy.UploadExpiryOptions{Pause: -1},
		WrapDrive: func(d storage.Drive) storage.Drive {
			if !first {
				return d
			}
			first = false
			return gatedDrive{d, g}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dep.Close)
	c := context.Background()
	if err := dep.MakeBucket(c, expiryBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// Each case has an old upload of its own, under key "<method>/0".
	for _, tc := range []struct {
		method  string
		write   func(id string) error
		removed int
	}{
		{"CommitObject", func(id string) error {
			last := completeAll(t, dep, "CommitObject/0", id)[1:] // the first part is under 5 MiB
			_, err := dep.CompleteMultipartUpload(c, expiryBucket, "CommitObject/0", id, last, objstore.CompleteOptions{})
			return err
		}, 0},
		{"RenameFile", func(id string) error {
			body := partBody(1, 1)
			_, err := dep.PutObjectPart(c, expiryBucket, "RenameFile/0", id, 3, bytes.NewReader(body), int64(len(body)), objstore.PartOptions{})
			return err
		}, 1},
	} {
		id := startUploads(t, dep, tc.method, 1)[0]
		clk.advance(25 * time.Hour)
		entered, release := g.arm(tc.method)
		wrote := make(chan error, 1)
		go func() { wrote <- tc.write(id) }()
		select {
		case <-entered:
		case err := <-wrote:
			t.Fatalf("the write to hold in %s did not reach it: %v", tc.method, err)
		case <-time.After(time.Minute):
			t.Fatalf("the write to hold in %s did not reach it in a minute", tc.method)
		}
		passed := make(chan int, 1)
		go func() {
			n, err := dep.ExpireUploadsOnce(c)
			if err != nil {
				t.Errorf("pass: %v", err)
			}
			passed <- n
		}()
		select {
		case n := <-passed:
			close(release)
			t.Fatalf("a pass removed %d uploads while a write was held in %s", n, tc.method)
		case <-time.After(200 * time.Millisecond): // the pass should be waiting for the lock
		}
		close(release)
		if err := within(t, wrote, "the held write"); err != nil {
			t.Fatalf("the write held in %s: %v", tc.method, err)
		}
		if n := within(t, passed, "the pass"); n != tc.removed {
			t.Fatalf("the pass after the write held in %s removed %d uploads, want %d", tc.method, n, tc.removed)
		}
		if tc.removed == 1 {
			_, err = dep.CompleteMultipartUpload(c, expiryBucket, "RenameFile/0", id, []objstore.CompletePart{{Number: 3, ETag: "x"}}, objstore.CompleteOptions{})
			if !errors.Is(err, objstore.ErrNoSuchUpload) {
				t.Fatalf("completing the expired upload: %v, want ErrNoSuchUpload", err)
			}
		}
	}
	h, err := dep.OpenObject(c, expiryBucket, "CommitObject/0")
	if err != nil {
		t.Fatalf("the completed object: %v", err)
	}
	h.Close()
	if size := h.Info().Size; size != 1<<10 {
		t.Fatalf("the completed object has %d bytes, want %d", size, 1<<10)
	}
	if files := uploadFiles(t, []string{filepath.Join(dir, "d1"), filepath.Join(dir, "d2"), filepath.Join(dir, "d3"), filepath.Join(dir, "d4")}); len(files) != 0 {
		t.Fatalf("files left under multipart/: %v", files)
	}
}

// completeAll returns the completion list of every part of an upload.
func completeAll(t *testing.T, dep *deploy.Deployment, key, id string) []objstore.CompletePart {
	t.Helper()
	res, err := dep.ListObjectParts(context.Background(), expiryBucket, key, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var parts []objstore.CompletePart
	for _, p := range res.Parts {
		parts = append(parts, objstore.CompletePart{Number: p.Number, ETag: p.ETag})
	}
	return parts
}

// within receives from ch, failing the test if nothing comes within a minute.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s: nothing within a minute", what)
		panic("unreachable")
	}
}

// TestRunUploadExpiry runs the background expiry: a backlog larger than MaxPerPass drains
// over several passes, uploads that age later go at a later pass, and it stops when its
// context ends.
func TestRunUploadExpiry(t *testing.T) {
	clk := newClock()
	reports := make(chan int, 100)
	dep, drives := openExpiry(t, 4, clk, deploy.UploadExpiryOptions{
		Interval: 10 * time.Millisecond, MaxPerPass: 2, Pause: time.Millisecond,
		Report: func(n int) {
			select {
			case reports <- n:
			default:
			}
		},
	})
	startUploads(t, dep, "first", 5)
	clk.advance(25 * time.Hour)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dep.RunUploadExpiry(c) }()
	waitRemoved := func(want int) {
		t.Helper()
		got := 0
		for got < want {
			got += within(t, reports, "a pass")
		}
		if got != want {
			t.Fatalf("passes removed %d uploads, want %d", got, want)
		}
	}
	waitRemoved(5)
	startUploads(t, dep, "second", 3)
	clk.advance(25 * time.Hour)
	waitRemoved(3)
	cancel()
	within(t, done, "RunUploadExpiry to return")
	if files := uploadFiles(t, drives); len(files) != 0 {
		t.Fatalf("files left under multipart/: %v", files)
	}
}
