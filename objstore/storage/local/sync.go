package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

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

// mkdirAll creates dir and its missing parents, then syncs the parent of each directory it
// created, so that a file renamed into dir afterwards is reachable after a crash. A parent
// removed concurrently (removeEmptyParents for another key) is created again, a bounded
// number of times.
func mkdirAll(dir string) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = mkdirOnce(dir); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func mkdirOnce(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirOnce(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dataDirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return syncDir(parent)
}

// renameDurable renames src to dst, creating dst's parent directories, and syncs dst's
// directory (and src's, when different) so that the rename survives a crash. A concurrent
// removal of an emptied parent directory (removeEmptyParents on another key) can delete
// dst's parent between the mkdir and the rename; the rename is then retried a few times.
func renameDurable(src, dst string) error {
	dstDir := filepath.Dir(dst)
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = mkdirAll(dstDir); err != nil {
			return err
		}
		if err = os.Rename(src, dst); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, serr := os.Lstat(src); serr != nil {
			break // the source itself is missing: not a race on the destination
		}
	}
	if err != nil {
		return err
	}
	if err := syncDir(dstDir); err != nil {
		return err
	}
	if srcDir := filepath.Dir(src); srcDir != dstDir {
		return syncDir(srcDir)
	}
	return nil
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
