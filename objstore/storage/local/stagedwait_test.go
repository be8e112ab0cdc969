package local

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// unwrittenPages returns how many of the file's pages are dirty and how many are under
// writeback: the pages whose data has not reached the device (cachestat(2)). It skips the
// test where the kernel has no cachestat (before Linux 6.5).
func unwrittenPages(t *testing.T, path string) (dirty, writeback uint64) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &unix.CachestatRange{}, &st, 0); err != nil {
		if err == unix.ENOSYS {
			t.Skip("no cachestat(2) in this kernel")
		}
		t.Fatalf("cachestat %s: %v", path, err)
	}
	return st.Dirty, st.Writeback
}

// redirty writes a file's bytes over themselves without a sync, so that every page of it is
// dirty again: as if the writeback that CreateFile started had not begun yet, which a busy
// device allows. It returns the file's dirty page count after the write.
func redirty(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	dirty, _ := unwrittenPages(t, path)
	return dirty
}

// regularFiles returns the regular files under dir, at any depth.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCommitWaitsForStagedData checks the durability order of a put's commit on ext4 with a
// journal: files staged under storage.WithSyncAtCommit only have their writeback started by
// CreateFile, so the CommitObject that carries the mark must have every page of them, and of
// its metadata file, on the device before it renames anything (the journal commit that
// names the data must come after the data). The staged files' pages are dirtied again
// before the commit, so a commit that did not write them out and wait finds them still
// dirty at its renames (cachestat). Sizes: a 1 MiB object's shard (one buffered write), a
// buffered file past one copy buffer (fallocated), and a direct one with a buffered tail;
// a staged directory with two files and one in a subdirectory.
func TestCommitWaitsForStagedData(t *testing.T) {
	root := loopExt4(t)
	var atStep func(step string)
	d, err := Open(filepath.Join(root, "d"), Options{Failpoint: func(step string) error {
		if atStep != nil {
			atStep(step)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !d.oneCommit {
		t.Fatal("drive on journaled ext4 does not use the one-commit write")
	}
	bg := context.Background()
	if err := d.MakeVolume(bg, "bucket"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i, size := range []int{512<<10 + 16, 2<<20 + 5, directMinSize + 3*directBufSize + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			var id [16]byte
			id[0], id[15] = byte(i+1), 0xAA
			dir := "tmp/" + hex.EncodeToString(id[:])
			names := []string{layout.PartName(1), layout.PartName(2), "sub/" + layout.PartName(3)}
			sctx := storage.WithSyncAtCommit(bg)
			for _, name := range names {
				if err := d.CreateFile(sctx, storage.SysVolume, dir+"/"+name, int64(size), bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
			staged, _ := d.filePath(storage.SysVolume, dir)
			for _, p := range regularFiles(t, staged) {
				if n := redirty(t, p); n == 0 {
					t.Fatalf("%s: no dirty page right after a write: the probe cannot see a missing wait", p)
				}
			}
			checked := false
			atStep = func(step string) {
				if step != "commit:rename-data" {
					return
				}
				checked = true
				// The staged files and the metadata's staging file, a regular file at the
				// top of the staging area.
				files := regularFiles(t, staged)
				entries, err := os.ReadDir(filepath.Dir(staged))
				if err != nil {
					t.Fatal(err)
				}
				metas := 0
				for _, e := range entries {
					if e.Type().IsRegular() {
						metas++
						files = append(files, filepath.Join(filepath.Dir(staged), e.Name()))
					}
				}
				if metas != 1 || len(files) != len(names)+1 {
					t.Errorf("at the data's rename: %d files, %d of them metadata, want %d and 1", len(files), metas, len(names)+1)
				}
				for _, p := range files {
					if dirty, wb := unwrittenPages(t, p); dirty != 0 || wb != 0 {
						t.Errorf("%s at the data's rename: %d dirty pages, %d under writeback: the commit would journal names of data not on the device", p, dirty, wb)
					}
				}
			}
			defer func() { atStep = nil }()
			m := &meta.Object{
				VersionID: id, DataDir: id, ModTime: time.Now().UTC(), Size: int64(size),
				Erasure: meta.Erasure{DataShards: 1, BlockSize: 1 << 20, Distribution: []uint8{0}},
			}
			key := fmt.Sprint("k", size)
			if err := d.CommitObject(sctx, "bucket", key, m.Marshal(), storage.SysVolume, dir); err != nil {
				t.Fatal(err)
			}
			if !checked {
				t.Fatal("the commit never reached its data directory's rename")
			}
			for _, name := range names {
				got, err := d.ReadFile(bg, "bucket", layout.DataDirPath(hex.EncodeToString(id[:]))+"/"+name)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s read back as %d bytes (equal %v), %v", name, len(got), bytes.Equal(got, data), err)
				}
			}
			if _, err := os.Stat(staged); !os.IsNotExist(err) {
				t.Errorf("staged directory still there after the commit: %v", err)
			}
		})
	}
}
