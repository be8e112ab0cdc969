package local

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ext4Magic is ext4's f_type in statfs (EXT4_SUPER_MAGIC, shared with ext2 and ext3).
const ext4Magic = 0xEF53

// oneCommitFS reports whether the file system holding dir makes a file's fsync durable
// together with the rename that gave the file its name: on ext4 with its journal (the
// default), fsync waits for the journal transaction of the inode's last change, and a rename
// changes the renamed inode (its ctime) in the transaction that holds the new directory
// entry, so one journal commit makes the data, the inode and the name durable. Other file
// systems (and ext4 without a journal, whose fsync would not cover the name) get the POSIX
// sequence: the file's sync, the rename, the directory's sync.
func oneCommitFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != ext4Magic {
		return false
	}
	return ext4HasJournal(dir)
}

// ext4HasJournal reports whether the ext4 file system holding dir runs with a journal:
// /sys/fs/ext4/<device>/journal_task names the journal's thread, "<none>" without one
// (a file system made without has_journal, or mounted with noload). Anything not found
// counts as no journal, the safe answer.
func ext4HasJournal(dir string) bool {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return false
	}
	// /sys/dev/block/MAJ:MIN links to the device, whose name ext4 uses under /sys/fs/ext4.
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return false
	}
	task, err := os.ReadFile("/sys/fs/ext4/" + filepath.Base(link) + "/journal_task")
	if err != nil {
		return false
	}
	t := strings.TrimSpace(string(task))
	return t != "" && t != "<none>"
}

// writeMeta writes an object's metadata to the new staging file tmp and renames it to dst,
// as durably as durable asks and the drive's file system allows: with one journal commit on
// a oneCommitFS drive (writeMetaOneCommit), else the file's fdatasync, the rename and the
// directory's fsync (renameDurable); not durable, the same steps without their syncs
// (storage.WithDeferredSync). bucketDir is the bucket's directory: a rename that finds no
// destination directory fails with storage.ErrVolumeNotFound when the bucket is gone,
// rather than making the bucket again.
//
// This runs on every drive for every small object, so it goes to the kernel directly and
// asks nothing it need not: no fallocate of a file of a few KiB (written in one call, its
// blocks are allocated at writeback), no poller registration of the descriptor (os.OpenFile
// costs three more system calls), and the staging and destination directories are only
// made when the create or the rename finds them missing.
func (d *Drive) writeMeta(tmp, dst, bucketDir string, data []byte, durable bool, beforeSync func()) error {
	if d.oneCommit && durable {
		return d.writeMetaOneCommit(tmp, dst, bucketDir, data, nil, beforeSync)
	}
	fd, err := d.writeStaged(tmp, data)
	if err != nil {
		return err
	}
	if durable {
		if err := unix.Fdatasync(fd); err != nil {
			unix.Close(fd)
			os.Remove(tmp)
			return mapErr(&fs.PathError{Op: "fdatasync", Path: tmp, Err: err})
		}
	}
	if err := unix.Close(fd); err != nil {
		os.Remove(tmp)
		return mapErr(&fs.PathError{Op: "close", Path: tmp, Err: err})
	}
	if err := d.failpoint("commit:rename-meta"); err != nil {
		return err
	}
	if !durable && unix.Rename(tmp, dst) == nil {
		return nil // the destination's directory was there: nothing else to do
	}
	if err := d.renameMetaSlow(tmp, dst, bucketDir, durable); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// renameMetaSlow is the rename of a staged metadata file when the destination's directory
// may have to be made: after checking that the bucket is still there, it makes the missing
// directories and renames, durably when durable (renameDurable: the directories it makes
// and the destination's are synced).
func (d *Drive) renameMetaSlow(tmp, dst, bucketDir string, durable bool) error {
	if _, err := os.Stat(bucketDir); err != nil {
		return d.objectErr(filepath.Base(bucketDir), err)
	}
	return mapErr(d.rename(tmp, dst, true, durable))
}

// writeStaged creates the staging file tmp, writes data to it and returns its descriptor,
// open for writing; on an error the file is removed. The staging directory is made again
// when missing (Delete removes the parents it empties, the system volume's tmp among them).
func (d *Drive) writeStaged(tmp string, data []byte) (int, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC
	fd, err := unix.Open(tmp, flags, dataFilePerm)
	if err == unix.ENOENT {
		if err := mkdirAll(d.root, filepath.Dir(tmp), false); err != nil {
			return -1, mapErr(err)
		}
		fd, err = unix.Open(tmp, flags, dataFilePerm)
	}
	if err != nil {
		return -1, mapErr(&fs.PathError{Op: "open", Path: tmp, Err: err})
	}
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = io.ErrShortWrite // a regular file's pwrite never does this; no endless loop if it did
		}
		if err != nil {
			unix.Close(fd)
			os.Remove(tmp)
			return -1, mapErr(&fs.PathError{Op: "write", Path: tmp, Err: err})
		}
		off += n
	}
	if err := d.failpoint("create:sync"); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return -1, err
	}
	return fd, nil
}

// stagedData is a staged data directory that a one-commit metadata write moves into place
// (CommitObject under storage.WithSyncAtCommit): its files' writeback was started by
// CreateFile and not waited for.
type stagedData struct {
	src, dst string
	staging  bool // src is in the staging area (see renameDurable's staged)
}

// writeMetaOneCommit writes data to the new staging file tmp and renames it to dst with one
// journal commit (see oneCommitFS): the data is written out first (sync_file_range, which
// allocates its blocks and waits for them without committing the journal), then the file is
// renamed, then fsync commits the transaction holding the allocation, the inode and the new
// name at once, after the data it points at. A crash before that commit leaves the old name
// (the previous metadata, or none) and a staging file that the next start removes.
//
// With staged, the metadata's writeback is only started before the wait for the staged
// files' data (waitStagedData), so that the device writes both at once, and the staged
// directory is renamed into place after both waits, before the metadata's rename. Why
// that is durable: every data page of the object is on the device (its writeback ended)
// before either rename is journaled, so any journal commit that names the data, the
// fsync's below or an earlier one (jbd2's timer, another file's fsync), comes after the
// data; the allocations and sizes that writeback journaled are in that transaction or an
// earlier one, and jbd2 commits transactions in order; the commit record is written with
// a cache flush before it (preflush), so the data is on stable media before the record
// that makes it reachable. A crash before the commit leaves the old metadata and at most
// a staged or unreferenced data directory.
//
// beforeSync, when not nil, runs after the rename, before the drive waits for its commit
// group and syncs (a commit batch's wait for its other drives).
func (d *Drive) writeMetaOneCommit(tmp, dst, bucketDir string, data []byte, staged *stagedData, beforeSync func()) error {
	// In a commit group (CommitGroups) the write counts as staging until its rename, so
	// that the other drives' fsyncs wait for it; on every path it leaves (renamed, once).
	var upto uint64
	renamed := func() {}
	if g := d.group; g != nil {
		t := g.begin()
		renamed = sync.OnceFunc(func() { upto = g.renamed(t) })
		defer renamed()
	}
	fd, err := d.writeStaged(tmp, data)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		unix.Close(fd)
		if !ok {
			os.Remove(tmp)
		}
	}()
	if staged != nil {
		unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE) // a start: waited for below
		if err := d.waitStagedData(staged.src); err != nil {
			return err
		}
	}
	if err := unix.SyncFileRange(fd, 0, 0, waitWritten); err != nil {
		return mapErr(&fs.PathError{Op: "sync_file_range", Path: tmp, Err: err})
	}
	if staged != nil {
		if err := d.failpoint("commit:rename-data"); err != nil {
			return err
		}
		// No sync: the fsync below commits the rename (see above).
		if err := d.rename(staged.src, staged.dst, staged.staging, false); err != nil {
			return mapErr(err)
		}
	}
	if err := d.failpoint("commit:rename-meta"); err != nil {
		return err
	}
	// No directory needs a sync of its own here, neither the destination's nor those made
	// for it (a key's first object in a new directory): their entries are journaled before
	// the rename, in its transaction or an earlier one, and ext4 commits its transactions
	// in order, so the journal commit below makes them durable with the rename.
	if err := unix.Rename(tmp, dst); err != nil {
		if err := d.renameMetaSlow(tmp, dst, bucketDir, false); err != nil {
			return err
		}
	}
	ok = true // renamed: tmp is gone, dst must stay
	if g := d.group; g != nil {
		renamed()
		if beforeSync != nil {
			beforeSync()
		}
		g.waitEarlier(upto, groupWait)
	}
	if err := d.failpoint("commit:sync-meta"); err != nil {
		return err
	}
	if err := unix.Fsync(fd); err != nil {
		return mapErr(&fs.PathError{Op: "fsync", Path: dst, Err: err})
	}
	return nil
}

// waitWritten are sync_file_range's flags that write a file's dirty pages out and wait
// until every page of it has reached the device (writeback ended: on ext4 that is after
// the blocks were allocated, or fallocate's unwritten extents converted, in a journal
// handle), without committing the journal.
const waitWritten = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER

// waitStagedData waits until the data of every file under the staged directory dir (a
// put's shard files, written under storage.WithSyncAtCommit, their writeback started) has
// reached the device. The writes of all of them (and of the metadata, started by the
// caller) are in flight together, so the waits in turn take about as long as the slowest.
// A staged data directory holds a few files (one per part); its subdirectories, if any,
// are waited for too.
func (d *Drive) waitStagedData(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return mapErr(err)
	}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.IsDir() {
			if err := d.waitStagedData(p); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		if err := waitFileWritten(p); err != nil {
			return err
		}
	}
	return nil
}

// waitFileWritten writes the file at p out and waits for it (waitWritten). A descriptor
// opened for reading is enough for sync_file_range.
func waitFileWritten(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return mapErr(&fs.PathError{Op: "open", Path: p, Err: err})
	}
	defer unix.Close(fd)
	if err := unix.SyncFileRange(fd, 0, 0, waitWritten); err != nil {
		return mapErr(&fs.PathError{Op: "sync_file_range", Path: p, Err: err})
	}
	return nil
}
