package fusefs

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stagingPrefix names a mount's staging directory in Options.StagingDir.
const stagingPrefix = "flashstor-fuse-"

// stagingLockFile, in a mount's staging directory, is locked (flock) by the mount for its
// life: a directory whose lock can be taken belongs to a process that is gone (killed,
// crashed) and holds nothing anyone will read.
const stagingLockFile = ".lock"

// makeStaging makes this mount's staging directory in base, locks it, and removes the
// staging directories that dead mounts left in base. The returned file holds the lock:
// it is closed after the directory is removed.
func makeStaging(base string, log *slog.Logger) (dir string, lock *os.File, err error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, fmt.Errorf("fusefs: staging directory: %w", err)
	}
	dir, err = os.MkdirTemp(base, stagingPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("fusefs: staging directory: %w", err)
	}
	// Locked under another name, then renamed: a sweep never finds the lock file unlocked
	// while its mount lives.
	tmp := filepath.Join(dir, stagingLockFile+".new")
	lock, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			err = os.Rename(tmp, filepath.Join(dir, stagingLockFile))
		}
		if err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("fusefs: locking the staging directory: %w", err)
	}
	sweepStaging(base, dir, log)
	return dir, lock, nil
}

// sweepStaging removes the staging directories in base, but own, whose lock file is
// there and can be locked: their mounts are gone. A directory without a lock file (made by
// a version that did not lock, or not yet locked) is left alone.
func sweepStaging(base, own string, log *slog.Logger) {
	dirs, err := filepath.Glob(filepath.Join(base, stagingPrefix+"*"))
	if err != nil {
		return
	}
	removed := 0
	for _, dir := range dirs {
		if dir == own {
			continue
		}
		f, err := os.Open(filepath.Join(dir, stagingLockFile))
		if err != nil {
			// Not there (an older version's directory, or one being made), or another
			// user's: not this mount's to sweep.
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
				log.Warn("fusefs: a staging directory's lock", "dir", dir, "err", err)
			}
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			// Held while the directory goes, so that no other sweep works on it meanwhile.
			if err := os.RemoveAll(dir); err != nil {
				log.Warn("fusefs: removing a dead mount's staging directory", "dir", dir, "err", err)
			} else {
				removed++
			}
		}
		f.Close()
	}
	if removed > 0 {
		log.Info("fusefs: removed the staging directories of mounts that are gone", "count", removed, "in", base)
	}
}
