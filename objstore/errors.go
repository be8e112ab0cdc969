package objstore

import "errors"

// Errors of the object layer. The faces map each to its S3 error code or errno; wrapped
// errors keep the detail (which bucket, which key, which drive).
var (
	ErrBucketNotFound     = errors.New("bucket not found")
	ErrBucketExists       = errors.New("bucket already exists")
	ErrBucketNotEmpty     = errors.New("bucket not empty")
	ErrInvalidBucketName  = errors.New("invalid bucket name")
	ErrObjectNotFound     = errors.New("object not found")
	ErrObjectExists       = errors.New("object already exists")
	ErrInvalidObjectName  = errors.New("invalid object name")
	ErrKeyTooLong         = errors.New("object key too long")
	ErrNameTooLong        = errors.New("object key segment too long")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrIncompleteBody     = errors.New("body shorter than its announced length")
	ErrEntityTooLarge     = errors.New("body longer than its announced length")
	ErrInvalidRange       = errors.New("invalid range")
	ErrNoSuchUpload       = errors.New("no such upload")
	ErrInvalidPart        = errors.New("invalid part")
	ErrInvalidPartOrder   = errors.New("parts not in ascending order")
	ErrEntityTooSmall     = errors.New("part smaller than the 5 MiB minimum")
	ErrInvalidArgument    = errors.New("invalid argument")
	// ErrReadQuorum and ErrWriteQuorum mean too few drives answered consistently: the
	// operation did nothing visible and may succeed later (S3: 503 SlowDown).
	ErrReadQuorum  = errors.New("read quorum not reached")
	ErrWriteQuorum = errors.New("write quorum not reached")
	// ErrBufferAbandoned means that a drive read into the caller's buffer timed out and may
	// still write into it: the caller must not use that memory again (see BufferReader).
	ErrBufferAbandoned = errors.New("a drive read may still write into the buffer")
	// ErrStorageFull means the drives are out of space.
	ErrStorageFull = errors.New("storage full")
)
