package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syncDir flushes a directory's entries (a rename or a creation in it) to stable storage.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// mkdirAll creates dir and its missing parents. When durable, it syncs the parent of each
// directory it creates, so that a file renamed into dir afterwards is reachable after a
// crash; staging directories need not be durable (a rename moves them into place and the
// destination is synced then). A parent removed concurrently (removeEmptyParents for another
// key) is created again, a bounded number of times. The drive's root is never created: when
// it is gone (its disk unmounted while running), creating it would put the drive's data on
// the file system below, so that fails with ENODEV, a drive fault.
func mkdirAll(root, dir string, durable bool) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = mkdirOnce(root, dir, durable); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func mkdirOnce(root, dir string, durable bool) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
		}
		return nil
	}
	if len(dir) <= len(root) {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: unix.ENODEV}
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirOnce(root, parent, durable); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dataDirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(parent)
}

// renameDurable renames src to dst, creating dst's parent directories, so that the rename
// survives a crash: a directory being moved is synced first (its entries were created in
// the staging area and never synced there), then dst's directory is synced, and src's too
// unless src is a staging path (staged), whose disappearance after a crash does not matter.
// The rename itself is renameInto's. root is the drive's, never created (see mkdirAll).
func renameDurable(root, src, dst string, staged bool) error {
	if fi, err := os.Lstat(src); err == nil && fi.IsDir() {
		if err := syncDir(src); err != nil {
			return err
		}
	}
	if err := renameInto(root, src, dst, true); err != nil {
		return err
	}
	dstDir := filepath.Dir(dst)
	if err := syncDir(dstDir); err != nil {
		return err
	}
	if srcDir := filepath.Dir(src); srcDir != dstDir && !staged {
		// A concurrent rename or delete of a sibling may already have removed the emptied
		// source directory: gone, it holds no stale entry to sync.
		if err := syncDir(srcDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// renameInto renames src to dst, creating dst's parent directories, durably if durable (see
// mkdirAll).
// A concurrent removal of an emptied parent directory (removeEmptyParents on another key)
// can delete dst's parent between the mkdir and the rename; the rename is then retried a
// few times.
func renameInto(root, src, dst string, durable bool) error {
	dstDir := filepath.Dir(dst)
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = mkdirAll(root, dstDir, durable); err != nil {
			return err
		}
		if err = os.Rename(src, dst); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, serr := os.Lstat(src); serr != nil {
			break // the source itself is missing: not a race on the destination
		}
	}
	return err
}

// removeEmptyParents removes dir and its parents while they are empty, stopping at stop
// (never removed). Failing to remove a directory that is not empty is the normal end.
func removeEmptyParents(dir, stop string) {
	for dir != stop && len(dir) > len(stop) {
		if err := unix.Rmdir(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// readSmallFile reads a whole file with the system calls directly (open, fstat, pread,
// close): os.ReadFile also registers the descriptor with the runtime's poller, which costs
// more than reading a metadata file does. path ends with a NUL byte (see openNUL).
func readSmallFile(path []byte) ([]byte, error) {
	fd, err := openNUL(path, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, pathError("open", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, pathError("fstat", path, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil, pathError("read", path, unix.EISDIR)
	}
	b := make([]byte, st.Size)
	n, err := preadFull(fd, b, 0)
	if err != nil {
		return nil, pathError("read", path, err)
	}
	return b[:n], nil
}

// pathError is an fs.PathError for a NUL-terminated path.
func pathError(op string, path []byte, err error) error {
	return &fs.PathError{Op: op, Path: string(bytes.TrimSuffix(path, []byte{0})), Err: err}
}

// openNUL is unix.Open for a path held NUL-terminated in a byte slice, which it hands to
// the kernel as it is: unix.Open copies its string argument into a new NUL-terminated
// buffer, one allocation per call. A path without its terminator, or with a NUL inside,
// is EINVAL.
func openNUL(path []byte, flags int) (int, error) {
	if len(path) == 0 || bytes.IndexByte(path, 0) != len(path)-1 {
		return -1, unix.EINVAL
	}
	// The conversion to uintptr in the call's arguments keeps path alive and in place
	// until the system call returns (rule 4 of unsafe.Pointer).
	dirfd := unix.AT_FDCWD
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(flags), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// SyncFileSystem makes everything written to the drive durable: syncfs(2) of the file
// system holding its root, which covers the data, inodes and directory entries of every
// write made under storage.WithDeferredSync before the call (and whatever else the file
// system holds: one call per drive, not per object, and one for the drives of a file
// system that ask at once, sharedSyncfs).
func (d *Drive) SyncFileSystem(ctx context.Context) error {
	d.fsSyncs.Add(1)
	// In a batch (deploy.SyncDrives), the drives of the file system share one syncfs.
	seat := d.seat(ctx)
	defer seat.leave()
	if d.redo != nil {
		// The log's descriptor is on the same file system: its syncfs is this one, and a
		// log holding records starts a new generation, what it held now in the synced tree.
		return d.redo.syncTree(seat.arrive)
	}
	fd, err := unix.Open(d.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return mapErr(&fs.PathError{Op: "open", Path: d.root, Err: err})
	}
	defer unix.Close(fd)
	if err := d.fsSync.sync(fd, seat.arrive); err != nil {
		return mapErr(&fs.PathError{Op: "syncfs", Path: d.root, Err: err})
	}
	return nil
}

// FileSystemSyncs returns how many times SyncFileSystem has synced the drive's file system.
func (d *Drive) FileSystemSyncs() int64 { return d.fsSyncs.Load() }
