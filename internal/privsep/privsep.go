//go:build linux

// Package privsep drops the privileges of a server started as root, once it has bound its
// ports, read its certificates and opened its drives: it switches to the user and group
// named by FLASHSTORE_RUN_USER and FLASHSTORE_RUN_GROUP, clears the supplementary groups,
// sets no_new_privs, and proves that root cannot be regained.
//
// Every thread: Go's syscall.Setgroups, Setresgid and Setresuid change the credentials of
// every thread of the process. no_new_privs is a per-thread attribute that threads inherit
// when they are created: without cgo it is set on every thread with
// syscall.AllThreadsSyscall; with cgo (the hardened build links externally) that call is
// not available, so this package sets it from a C constructor, before the Go runtime
// starts its first thread, in any process whose environment names FLASHSTORE_RUN_USER.
// Drop then checks every thread in /proc/self/task and fails if one lacks it.
//
// Linux only.
package privsep

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables read by FromEnv. (The spelling FLASHSTORE is the product's.)
const (
	EnvUser  = "FLASHSTORE_RUN_USER"
	EnvGroup = "FLASHSTORE_RUN_GROUP"
)

// Config says whom to become.
type Config struct {
	// User is a user name or a numeric uid. Empty: no drop.
	User string
	// Group is a group name or a numeric gid. Empty: the user's primary group.
	Group string
	// Dirs must be writable by the user, checked before anything changes (the drives).
	Dirs []string
	// Adopt are paths (files or trees) whose root-owned entries become the user's before
	// Dirs are checked: what the process created as root at start-up and must write later.
	Adopt []string
}

// FromEnv returns the Config that the environment asks for, with dirs to check.
func FromEnv(dirs ...string) Config {
	return Config{User: os.Getenv(EnvUser), Group: os.Getenv(EnvGroup), Dirs: dirs}
}

// Result says what Drop did.
type Result struct {
	// Dropped is true when the process changed user: it was root and a user was given.
	Dropped bool
	// UID and GID are the process's ids after Drop (changed or not).
	UID, GID int
	// Threads is the number of threads whose credentials were checked after the drop.
	Threads int
}

// Drop switches the whole process to cfg's user and group. The order is: resolve the
// names; give the root-owned entries of cfg.Adopt to the user; check that every directory in cfg.Dirs is writable by that user (with a clear
// error naming the first that is not); clear supplementary groups; set the gid, then the
// uid (real, effective and saved); set no_new_privs; then verify that setuid(0),
// setgid(0) and setgroups fail, and that every thread has the new ids, no capability left
// and no_new_privs set. Any failure returns an error: the caller must exit, since a
// process that failed half-way is in no state to serve.
//
// Without a user in cfg, Drop does nothing, root or not. Not root but asked to become
// another user, it fails; asked to become the user it already is, it only checks the
// directories.
func Drop(cfg Config) (Result, error) {
	if cfg.User == "" {
		if cfg.Group != "" {
			return Result{}, fmt.Errorf("privsep: %s is set without %s", EnvGroup, EnvUser)
		}
		return Result{UID: os.Getuid(), GID: os.Getgid()}, nil
	}
	id, err := lookup(cfg.User, cfg.Group)
	if err != nil {
		return Result{}, err
	}
	if os.Geteuid() != 0 {
		if os.Geteuid() != id.uid || os.Getegid() != id.gid {
			return Result{}, fmt.Errorf("privsep: cannot become %s: not running as root (uid %d)", id, os.Geteuid())
		}
		return Result{UID: id.uid, GID: id.gid}, CheckWritable(cfg.User, cfg.Group, cfg.Dirs)
	}
	if err := adopt(id, cfg.Adopt); err != nil {
		return Result{}, err
	}
	if err := checkWritable(id, cfg.Dirs); err != nil {
		return Result{}, err
	}
	if err := syscall.Setgroups([]int{}); err != nil {
		return Result{}, fmt.Errorf("privsep: clear supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(id.gid, id.gid, id.gid); err != nil {
		return Result{}, fmt.Errorf("privsep: set gid %d: %w", id.gid, err)
	}
	if err := syscall.Setresuid(id.uid, id.uid, id.uid); err != nil {
		return Result{}, fmt.Errorf("privsep: set uid %d: %w", id.uid, err)
	}
	if err := setNoNewPrivs(); err != nil {
		return Result{}, err
	}
	threads, err := verify(id)
	if err != nil {
		return Result{}, err
	}
	return Result{Dropped: true, UID: id.uid, GID: id.gid, Threads: threads}, nil
}

// setNoNewPrivs sets no_new_privs on every thread, or checks that the C constructor did.
func setNoNewPrivs() error {
	_, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	switch {
	case errno == 0:
		return nil
	case errno == syscall.ENOTSUP: // cgo: the constructor set it at start, if it could
		if !cgoConstructor {
			return errors.New("privsep: cannot set no_new_privs on every thread")
		}
		return nil // verify checks every thread
	default:
		return fmt.Errorf("privsep: set no_new_privs: %w", errno)
	}
}
