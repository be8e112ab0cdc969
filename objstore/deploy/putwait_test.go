package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestPutCommitWaitsForShards checks, through the object layer on a journaled ext4, that a
// put's commit has each drive's shard data on the device before it renames the data into
// place: the shards are staged under storage.WithSyncAtCommit, which on such a drive only
// starts their writeback, so the put must commit under the same mark for the drives to wait
// there. Right before the commit (BeforeCommit) the staged shard files' pages are dirtied
// again and held open; at the k-th drive's data rename, at least k of them must be clean
// (cachestat: no dirty page, none under writeback). A put whose commit does not wait finds
// every one still dirty.
func TestPutCommitWaitsForShards(t *testing.T) {
	if testing.Short() {
		t.Skip("loop mounts skipped in -short")
	}
	_, mnt := loopImage(t)
	var (
		mu      sync.Mutex
		shards  []*os.File // the staged shard files, from BeforeCommit on. GUARDED_BY(mu).
		renames int        // data renames seen. GUARDED_BY(mu).
		fails   []string   // GUARDED_BY(mu).
	)
	cfg := deploy.Config{
		Drives: []string{filepath.Join(mnt, "d{1...4}")},
		Parity: 2,
		BeforeCommit: func(bucket, key string) {
			mu.Lock()
			defer mu.Unlock()
			paths, _ := filepath.Glob(filepath.Join(mnt, "d*", storage.SysVolume, "tmp", "*", "part.1"))
			for _, p := range paths {
				f, err := redirtyFile(p)
				if err != nil {
					fails = append(fails, err.Error())
					continue
				}
				shards = append(shards, f)
			}
		},
		DriveOptions: local.Options{Failpoint: func(step string) error {
			if step != "commit:rename-data" {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			renames++
			clean := 0
			for _, f := range shards {
				var st unix.Cachestat_t
				if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
					fails = append(fails, fmt.Sprintf("cachestat %s: %v", f.Name(), err))
					return nil
				}
				if st.Dirty == 0 && st.Writeback == 0 {
					clean++
				}
			}
			if clean < renames {
				fails = append(fails, fmt.Sprintf("at data rename %d: %d of %d shard files on the device", renames, clean, len(shards)))
			}
			return nil
		}},
	}
	c := context.Background()
	d, err := deploy.Open(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.MakeBucket(c, "wait", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(mnt, "probe")
	if err := os.WriteFile(probe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(probe); err == nil {
		var st unix.Cachestat_t
		err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0)
		f.Close()
		if err == unix.ENOSYS {
			t.Skip("no cachestat(2) in this kernel")
		}
	}
	for _, size := range []int{1 << 20, 2<<20 + 5} {
		mu.Lock()
		for _, f := range shards {
			f.Close()
		}
		shards, renames = nil, 0
		mu.Unlock()
		content := randomBytes(size, uint64(size))
		if _, err := d.PutObject(c, "wait", fmt.Sprint("k", size), bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n, r := len(shards), renames
		mu.Unlock()
		if n != 4 || r != 4 {
			t.Fatalf("%d bytes: %d staged shard files redirtied, %d data renames seen; want 4 and 4", size, n, r)
		}
		got := readAll(t, c, d, "wait", fmt.Sprint("k", size))
		if !bytes.Equal(got, content) {
			t.Fatalf("%d bytes read back as %d bytes, not the object", size, len(got))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range shards {
		f.Close()
	}
	for _, f := range fails {
		t.Error(f)
	}
}

// redirtyFile writes a file's bytes over themselves, so that its pages are dirty again (as
// if the writeback started for them had not begun), and returns it open.
func redirtyFile(p string) (*os.File, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
