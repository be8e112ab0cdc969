package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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

// writeMetaOneCommit writes data to the new staging file tmp and renames it to dst with one
// journal commit (see oneCommitFS): the data is written out first (sync_file_range, which
// allocates its blocks and waits for them without committing the journal), then the file is
// renamed, then fsync commits the transaction holding the allocation, the inode and the new
// name at once, after the data it points at. A crash before that commit leaves the old name
// (the previous metadata, or none) and a staging file that the next start removes.
func (d *Drive) writeMetaOneCommit(tmp, dst string, data []byte) error {
	// The staging directory may be gone (Delete removes the parents it empties, the system
	// volume's tmp among them): make it again, as writeNew does.
	if err := mkdirAll(d.root, filepath.Dir(tmp), false); err != nil {
		return mapErr(err)
	}
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, dataFilePerm)
	if err != nil {
		return mapErr(&fs.PathError{Op: "open", Path: tmp, Err: err})
	}
	ok := false
	defer func() {
		unix.Close(fd)
		if !ok {
			os.Remove(tmp)
		}
	}()
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err != nil {
			return mapErr(&fs.PathError{Op: "write", Path: tmp, Err: err})
		}
		off += n
	}
	if err := d.failpoint("create:sync"); err != nil {
		return err
	}
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if err := unix.SyncFileRange(fd, 0, 0, flags); err != nil {
		return mapErr(&fs.PathError{Op: "sync_file_range", Path: tmp, Err: err})
	}
	if err := d.failpoint("commit:rename-meta"); err != nil {
		return err
	}
	if err := renameInto(d.root, tmp, dst, true); err != nil {
		return mapErr(err)
	}
	ok = true // renamed: tmp is gone, dst must stay
	if err := unix.Fsync(fd); err != nil {
		return mapErr(&fs.PathError{Op: "fsync", Path: dst, Err: err})
	}
	return nil
}
