package fusefs

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/flashstor/flashstor/objstore"
)

// maxKeyLength is the longest object key the core stores, in bytes (S3's limit).
const maxKeyLength = 1024

// maxNameLength is the longest name of a file or directory, in bytes: a key segment (the
// core's limit, and NAME_MAX). A longer name is ENAMETOOLONG before anything changes.
const maxNameLength = 255

// toErrno maps an error of the object layer (or of the local staging file) to the errno a
// file system returns. Unknown errors are EIO: the caller cannot do better than retry.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, objstore.ErrObjectNotFound), errors.Is(err, objstore.ErrBucketNotFound):
		return syscall.ENOENT
	case errors.Is(err, objstore.ErrObjectExists), errors.Is(err, objstore.ErrBucketExists),
		errors.Is(err, objstore.ErrPreconditionFailed):
		return syscall.EEXIST
	case errors.Is(err, objstore.ErrBucketNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, objstore.ErrStorageFull), errors.Is(err, objstore.ErrTooManyVersions):
		return syscall.ENOSPC
	case errors.Is(err, objstore.ErrObjectLocked):
		// A version under retention or legal hold: S3's AccessDenied, whoever asks.
		return syscall.EPERM
	case errors.Is(err, objstore.ErrKeyTooLong), errors.Is(err, objstore.ErrNameTooLong):
		return syscall.ENAMETOOLONG
	case errors.Is(err, objstore.ErrInvalidBucketName), errors.Is(err, objstore.ErrInvalidObjectName),
		errors.Is(err, objstore.ErrInvalidArgument), errors.Is(err, objstore.ErrInvalidRange):
		return syscall.EINVAL
	case errors.Is(err, objstore.ErrReadQuorum), errors.Is(err, objstore.ErrWriteQuorum):
		return syscall.EIO
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	}
	return syscall.EIO
}
