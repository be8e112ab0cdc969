package fusefs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
)

// TestRetryAfterFailedFirstCommit: a new file whose first commit fails (two of four drives
// refusing commits) is gone, and a program that at once creates it again and writes it
// (what a tool retrying after EIO or ENOSPC does) gets its second write committed. The
// failed close drops the file's name from the kernel before it returns (Flush's
// unlockSync): were the name still cached, the retry would open the discarded file, which
// counts as removed, and its close would be acknowledged and dropped.
func TestRetryAfterFailedFirstCommit(t *testing.T) {
	d, drives := faultyDeployment(t)
	dir := filepath.Join(mountLayer(t, d, Options{}), testBucket)
	for i := range 30 {
		name := fmt.Sprintf("retry%d", i)
		path := filepath.Join(dir, name)
		for _, f := range drives[:2] {
			f.Fail("CommitObject", fmt.Errorf("%w: read-only file system", storage.ErrFaulty))
		}
		err := os.WriteFile(path, pattern(100, 1), 0o644)
		for _, f := range drives[:2] {
			f.Clear()
		}
		wantErrno(t, "first commit below write quorum", err, syscall.EIO)
		want := pattern(150+i, 2)
		must(t, "write again at once", os.WriteFile(path, want, 0o644))
		if got, _ := getObject(t, d, name); !bytes.Equal(got, want) {
			t.Fatalf("round %d: the core holds %d bytes, not the %d written after the failed first commit", i, len(got), len(want))
		}
	}
}
