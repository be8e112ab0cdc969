package objtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

func testRename(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	big := data(2<<20+5, 31)
	_, err := l.PutObject(c, b, "src/file", bytes.NewReader(big), int64(len(big)), objstore.PutOptions{Metadata: map[string]string{"x-amz-meta-mode": "0640"}})
	must(t, "PutObject", err)
	before, _ := l.StatObject(c, b, "src/file")
	info, err := l.RenameObject(c, b, "src/file", "dst/deeper/file", objstore.RenameOptions{})
	must(t, "RenameObject", err)
	if info.Key != "dst/deeper/file" || info.Metadata["x-amz-meta-mode"] != "0640" || !info.ModTime.Equal(before.ModTime) {
		t.Fatalf("RenameObject = %+v", info)
	}
	_, err = l.StatObject(c, b, "src/file")
	mustIs(t, "source after rename", err, objstore.ErrObjectNotFound)
	checkContent(t, l, b, "dst/deeper/file", big)

	// Renames between many key pairs exercise both same-set and cross-set moves.
	for i := 0; i < 12; i++ {
		src, dst := fmt.Sprintf("many/%d", i), fmt.Sprintf("moved/%d", i)
		content := data(1000+i*50_000, uint64(i))
		put(t, l, b, src, content)
		put(t, l, b, dst, []byte("to be replaced"))
		_, err := l.RenameObject(c, b, src, dst, objstore.RenameOptions{NoReplace: true})
		mustIs(t, "RenameObject NoReplace onto an existing key", err, objstore.ErrObjectExists)
		checkContent(t, l, b, src, content)
		_, err = l.RenameObject(c, b, src, dst, objstore.RenameOptions{})
		must(t, "RenameObject over an existing key", err)
		checkContent(t, l, b, dst, content)
		_, err = l.StatObject(c, b, src)
		mustIs(t, "source after rename", err, objstore.ErrObjectNotFound)
	}
	_, err = l.RenameObject(c, b, "never", "x", objstore.RenameOptions{})
	mustIs(t, "RenameObject of a missing key", err, objstore.ErrObjectNotFound)
}

func testUpdateMetadata(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	for _, n := range []int{10, 2 << 20} {
		key := fmt.Sprint("meta-", n)
		content := data(n, 3)
		_, err := l.PutObject(c, b, key, bytes.NewReader(content), int64(n), objstore.PutOptions{Metadata: map[string]string{"x-amz-meta-mode": "0644", "x-amz-meta-uid": "1000"}})
		must(t, "PutObject", err)
		before, _ := l.StatObject(c, b, key)
		info, err := l.UpdateObjectMetadata(c, b, key, objstore.MetadataPatch{Set: map[string]string{"x-amz-meta-mode": "0600"}, Delete: []string{"x-amz-meta-uid"}})
		must(t, "UpdateObjectMetadata", err)
		st, err := l.StatObject(c, b, key)
		must(t, "StatObject", err)
		for _, got := range []objstore.ObjectInfo{info, st} {
			if got.Metadata["x-amz-meta-mode"] != "0600" || got.Metadata["x-amz-meta-uid"] != "" || got.ETag != before.ETag || got.Size != int64(n) {
				t.Fatalf("after UpdateObjectMetadata: %+v", got)
			}
		}
		checkContent(t, l, b, key, content)
	}
	_, err := l.UpdateObjectMetadata(c, b, "missing", objstore.MetadataPatch{})
	mustIs(t, "UpdateObjectMetadata of a missing key", err, objstore.ErrObjectNotFound)
}

func testChangeFeed(t *testing.T, l objstore.ObjectLayer) {
	c := ctx(t)
	var mu sync.Mutex
	var got []string
	cancel := l.Subscribe("", func(e objstore.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %s %s %s %v", e.Type, e.Bucket, e.Key, e.NewKey, e.Origin))
	})
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return ""
		}
		return got[len(got)-1]
	}
	b := bucket(t, l)
	if w := "bucket-created test-bucket   <nil>"; last() != w {
		t.Fatalf("after MakeBucket, last event %q, want %q", last(), w)
	}
	oc := objstore.WithOrigin(c, "fuse")
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error {
			_, err := l.PutObject(oc, b, "k", bytes.NewReader([]byte("x")), 1, objstore.PutOptions{})
			return err
		}, "put test-bucket k  fuse"},
		{func() error {
			_, err := l.UpdateObjectMetadata(c, b, "k", objstore.MetadataPatch{Set: map[string]string{"x-amz-meta-a": "b"}})
			return err
		}, "metadata test-bucket k  <nil>"},
		{func() error { _, err := l.RenameObject(c, b, "k", "k2", objstore.RenameOptions{}); return err }, "rename test-bucket k k2 <nil>"},
		{func() error {
			_, err := l.CopyObject(c, objstore.ObjectRef{Bucket: b, Key: "k2"}, objstore.ObjectRef{Bucket: b, Key: "k3"}, objstore.CopyOptions{})
			return err
		}, "put test-bucket k3  <nil>"},
		{func() error { return l.DeleteObject(c, b, "k2") }, "delete test-bucket k2  <nil>"},
	}
	for _, s := range steps {
		must(t, s.want, s.do())
		if last() != s.want {
			t.Fatalf("event %q, want %q (events are delivered before the call returns)", last(), s.want)
		}
	}
	cancel()
	n := len(got)
	put(t, l, b, "after", nil)
	if len(got) != n {
		t.Fatal("events delivered after cancel")
	}
	// A subscription to one bucket sees only that bucket.
	must(t, "MakeBucket", l.MakeBucket(c, "other", objstore.MakeBucketOptions{}))
	var only atomic.Int32
	cancel = l.Subscribe("other", func(e objstore.Event) { only.Add(1) })
	defer cancel()
	put(t, l, b, "x", nil)
	put(t, l, "other", "x", nil)
	if only.Load() != 1 {
		t.Fatalf("bucket subscription saw %d events, want 1", only.Load())
	}
}

// testConcurrentNoTorn overwrites one key from several writers while readers read it:
// every version is one byte repeated, so a reader that sees two different bytes saw a
// torn object.
func testConcurrentNoTorn(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	const size = 1<<20 + 4096
	put(t, l, b, "hot", bytes.Repeat([]byte{'A'}, size))
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 8 && c.Err() == nil; i++ {
				v := byte('B' + w*8 + i)
				if _, err := l.PutObject(c, b, "hot", bytes.NewReader(bytes.Repeat([]byte{v}, size)), size, objstore.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15 && c.Err() == nil; i++ {
				h, err := l.OpenObject(c, b, "hot")
				if err != nil {
					errs <- err
					return
				}
				buf, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
				h.Close()
				if err != nil {
					errs <- err
					return
				}
				if len(buf) != size || bytes.Count(buf, buf[:1]) != size {
					errs <- errors.New("torn read: an object mixing two versions")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testStorageInfo(t *testing.T, l objstore.ObjectLayer) {
	info := l.StorageInfo(ctx(t))
	if info.OnlineDrives == 0 || info.OfflineDrives != 0 || info.Total == 0 || info.UsableTotal == 0 || info.UsableTotal > info.Total {
		t.Fatalf("StorageInfo = %+v", info)
	}
	if !l.Ready(ctx(t)) {
		t.Fatal("a healthy layer is not ready")
	}
}
