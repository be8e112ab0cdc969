package fusefs

import (
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixSkipped are the posixtest cases this mount does not pass, and why (SEMANTICS.md).
var posixSkipped = map[string]string{
	"FcntlFlockLocksFile": "locks are the kernel's local POSIX locks, owned by the process: two " +
		"descriptors of one process do not conflict, as POSIX says (the case expects open file " +
		"description locks)",
}

// TestPosix runs go-fuse's posixtest suite against the mount, each case on a fresh bucket.
func TestPosix(t *testing.T) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixSkipped[name]; ok {
				t.Skip(why)
			}
			_, dir := setup(t, 1)
			posixtest.All[name](t, dir)
		})
	}
}
