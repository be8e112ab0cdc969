//go:build linux

package privsep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// maxSubdirs bounds how many sub-directories of each drive CheckWritable probes.
const maxSubdirs = 10000

// CheckWritable checks, as root and without changing the process's credentials, that the
// given user and group (names or numbers, as in Config) can create files in every
// directory of dirs and in each of their immediate sub-directories (a drive's buckets and
// system folder, up to 10000 of them), and returns an error naming the first that cannot.
func CheckWritable(userName, groupName string, dirs []string) error {
	id, err := lookup(userName, groupName)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		if os.Geteuid() != id.uid {
			return fmt.Errorf("privsep: cannot check drives for %s: not running as root", id)
		}
		return probeDrives(id, dirs) // already that user
	}
	return checkWritable(id, dirs)
}

// checkWritable runs the probes on a thread of their own whose filesystem ids
// (setfsuid, setfsgid) and groups are the target's: the kernel then checks permissions,
// ACLs and read-only mounts exactly as it will for the dropped process, and the change
// stays on that one thread. The thread is given back to the runtime only once its
// credentials are restored; if that fails it stays locked and ends with the goroutine.
func checkWritable(id ident, dirs []string) error {
	if len(dirs) == 0 {
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := probeAs(id, dirs)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// probeAs takes the target's filesystem identity on the current (locked) thread, probes
// dirs, and restores the thread's identity. restored reports whether the thread is as it
// was.
func probeAs(id ident, dirs []string) (restored bool, err error) {
	groups, err := unix.Getgroups()
	if err != nil {
		return true, fmt.Errorf("privsep: getgroups: %w", err)
	}
	oldGID, _ := unix.SetfsgidRetGid(-1) // -1 changes nothing and returns the current id
	oldUID, _ := unix.SetfsuidRetUid(-1)
	defer func() {
		restored = unix.Setgroups(groups) == nil
		unix.SetfsuidRetUid(oldUID)
		unix.SetfsgidRetGid(oldGID)
		uid, _ := unix.SetfsuidRetUid(-1)
		gid, _ := unix.SetfsgidRetGid(-1)
		restored = restored && uid == oldUID && gid == oldGID
	}()
	if err := unix.Setgroups(nil); err != nil {
		return true, fmt.Errorf("privsep: check drives: setgroups: %w", err)
	}
	unix.SetfsgidRetGid(id.gid)
	unix.SetfsuidRetUid(id.uid)
	if uid, _ := unix.SetfsuidRetUid(-1); uid != id.uid {
		return true, fmt.Errorf("privsep: check drives: setfsuid(%d) left fsuid %d", id.uid, uid)
	}
	if gid, _ := unix.SetfsgidRetGid(-1); gid != id.gid {
		return true, fmt.Errorf("privsep: check drives: setfsgid(%d) left fsgid %d", id.gid, gid)
	}
	return true, probeDrives(id, dirs)
}

// probeDrives probes every drive with the current credentials.
func probeDrives(id ident, dirs []string) error {
	for _, dir := range dirs {
		if err := probeDrive(id, dir); err != nil {
			return err
		}
	}
	return nil
}

// probeDrive probes dir and its immediate sub-directories.
func probeDrive(id ident, dir string) error {
	if err := probeDir(id, dir, dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("privsep: drive %s cannot be listed by %s: %w", dir, id, err)
	}
	for i, e := range entries {
		if i == maxSubdirs {
			break
		}
		if e.IsDir() {
			if err := probeDir(id, dir, filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// probeDir creates and removes a file in path, a directory of drive.
func probeDir(id ident, drive, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("privsep: drive %s: %w", drive, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("privsep: drive %s: %s is not a directory", drive, path)
	}
	f, err := os.CreateTemp(path, ".flashstor-privsep-*")
	if err != nil {
		return fmt.Errorf("privsep: drive %s is not writable by %s: %w", drive, id, err)
	}
	name := f.Name()
	err = errors.Join(f.Close(), os.Remove(name))
	if err != nil {
		return fmt.Errorf("privsep: drive %s: remove probe file: %w", drive, err)
	}
	return nil
}
