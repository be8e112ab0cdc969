//go:build linux

package privsep

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// verify checks that root cannot be regained and that every thread of the process has
// the target's ids, no supplementary group, no capability and no_new_privs. It returns the
// number of threads checked.
func verify(id ident) (int, error) {
	if err := syscall.Setuid(0); err == nil {
		return 0, fmt.Errorf("privsep: setuid(0) still succeeds after the drop")
	}
	if err := syscall.Setgid(0); err == nil {
		return 0, fmt.Errorf("privsep: setgid(0) still succeeds after the drop")
	}
	if err := syscall.Setgroups([]int{0}); err == nil {
		return 0, fmt.Errorf("privsep: setgroups([0]) still succeeds after the drop")
	}
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("privsep: list threads in /proc/self/task: %v", err)
	}
	checked := 0
	for _, path := range tasks {
		st, err := readStatus(path)
		if os.IsNotExist(err) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return 0, err
		}
		if err := st.check(id); err != nil {
			return 0, fmt.Errorf("privsep: thread %s: %w", filepath.Base(filepath.Dir(path)), err)
		}
		checked++
	}
	return checked, nil
}

// ThreadStatus is what /proc/PID/task/TID/status says of one thread's credentials.
type ThreadStatus struct {
	UIDs, GIDs     [4]int // real, effective, saved, filesystem
	Groups         []int
	CapPrm, CapEff uint64
	CapAmb         uint64
	NoNewPrivs     bool
}

// Threads reads the credentials of every thread of the calling process.
func Threads() ([]ThreadStatus, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		return nil, err
	}
	var out []ThreadStatus
	for _, path := range tasks {
		st, err := readStatus(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (st ThreadStatus) check(id ident) error {
	for i := range st.UIDs {
		if st.UIDs[i] != id.uid || st.GIDs[i] != id.gid {
			return fmt.Errorf("uids %v, gids %v; want %d and %d", st.UIDs, st.GIDs, id.uid, id.gid)
		}
	}
	switch {
	case len(st.Groups) > 0:
		return fmt.Errorf("supplementary groups %v remain", st.Groups)
	case st.CapPrm != 0 || st.CapEff != 0 || st.CapAmb != 0:
		return fmt.Errorf("capabilities remain: permitted %#x, effective %#x, ambient %#x", st.CapPrm, st.CapEff, st.CapAmb)
	case !st.NoNewPrivs:
		return fmt.Errorf("no_new_privs is not set (with cgo, %s must be in the environment when the process starts)", EnvUser)
	}
	return nil
}

func readStatus(path string) (ThreadStatus, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ThreadStatus{}, err
	}
	return parseStatus(path, data)
}

// parseStatus parses the credential lines of a /proc status file; path names it in errors.
func parseStatus(path string, data []byte) (ThreadStatus, error) {
	var st ThreadStatus
	var err error
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(fields) != 4 {
				return st, fmt.Errorf("privsep: %s: malformed %s line", path, key)
			}
			dst := &st.UIDs
			if key == "Gid" {
				dst = &st.GIDs
			}
			for i, f := range fields {
				if dst[i], err = strconv.Atoi(f); err != nil {
					return st, fmt.Errorf("privsep: %s: %s: %w", path, key, err)
				}
			}
			seen++
		case "Groups":
			for _, f := range fields {
				g, err := strconv.Atoi(f)
				if err != nil {
					return st, fmt.Errorf("privsep: %s: Groups: %w", path, err)
				}
				st.Groups = append(st.Groups, g)
			}
			seen++
		case "CapPrm", "CapEff", "CapAmb":
			if len(fields) != 1 {
				return st, fmt.Errorf("privsep: %s: malformed %s line", path, key)
			}
			v, err := strconv.ParseUint(fields[0], 16, 64)
			if err != nil {
				return st, fmt.Errorf("privsep: %s: %s: %w", path, key, err)
			}
			switch key {
			case "CapPrm":
				st.CapPrm = v
			case "CapEff":
				st.CapEff = v
			default:
				st.CapAmb = v
			}
			seen++
		case "NoNewPrivs":
			st.NoNewPrivs = len(fields) == 1 && fields[0] == "1"
			seen++
		}
	}
	if seen != 7 {
		return st, fmt.Errorf("privsep: %s: expected Uid, Gid, Groups, CapPrm, CapEff, CapAmb and NoNewPrivs lines", path)
	}
	return st, nil
}
