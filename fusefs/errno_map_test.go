package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// TestToErrno maps every error of the object layer, wrapped as the layer wraps them.
func TestToErrno(t *testing.T) {
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{objstore.ErrObjectNotFound, syscall.ENOENT},
		{objstore.ErrBucketNotFound, syscall.ENOENT},
		{objstore.ErrObjectExists, syscall.EEXIST},
		{objstore.ErrBucketExists, syscall.EEXIST},
		{objstore.ErrPreconditionFailed, syscall.EEXIST},
		{objstore.ErrBucketNotEmpty, syscall.ENOTEMPTY},
		{objstore.ErrStorageFull, syscall.ENOSPC},
		{objstore.ErrTooManyVersions, syscall.ENOSPC},
		{objstore.ErrObjectLocked, syscall.EPERM},
		{objstore.ErrReadQuorum, syscall.EIO},
		{objstore.ErrWriteQuorum, syscall.EIO},
		{objstore.ErrKeyTooLong, syscall.ENAMETOOLONG},
		{objstore.ErrNameTooLong, syscall.ENAMETOOLONG},
		{objstore.ErrInvalidBucketName, syscall.EINVAL},
		{objstore.ErrInvalidObjectName, syscall.EINVAL},
		{context.Canceled, syscall.EINTR},
		{syscall.ENOSPC, syscall.ENOSPC},
		{fs.ErrNotExist, syscall.ENOENT},
		{errors.New("anything else"), syscall.EIO},
	}
	for _, c := range cases {
		if got := toErrno(c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
		if c.err == nil {
			continue
		}
		if got := toErrno(fmt.Errorf("putting bucket/key on drive 3: %w", c.err)); got != c.want {
			t.Errorf("toErrno(wrapped %v) = %v, want %v", c.err, got, c.want)
		}
	}
}
