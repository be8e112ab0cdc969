package erasure

import "errors"

// Sentinel errors. Errors returned by this package wrap them with context; test with errors.Is.
var (
	// ErrInvalidArgument reports a geometry, range, size or slice length that the codec cannot
	// accept. It is a caller bug or corrupt metadata, never a drive fault.
	ErrInvalidArgument = errors.New("erasure: invalid argument")

	// ErrWriteQuorum reports that fewer than writeQuorum shard writers were still working, so
	// the object was not stored durably.
	ErrWriteQuorum = errors.New("erasure: write quorum lost")

	// ErrReadQuorum reports that some stripe had fewer than k intact shards, so the data could
	// not be read or rebuilt. No partial guess is ever returned in its place.
	ErrReadQuorum = errors.New("erasure: read quorum lost")

	// ErrSizeExceeded reports that the reader given to Encode held more than the declared size.
	ErrSizeExceeded = errors.New("erasure: object is larger than its declared size")

	// ErrShardMissing reports a shard whose reader or writer is nil (an offline drive).
	ErrShardMissing = errors.New("erasure: shard missing")

	// ErrShardCorrupt reports a shard block whose checksum does not match its bytes, or a
	// shard file longer than its geometry allows.
	ErrShardCorrupt = errors.New("erasure: shard block checksum mismatch")

	// ErrBufferAbandoned reports that a read failed in a way that lets it write into its
	// buffer later (a drive read that timed out goes on in the background): a
	// BlockReaderAt's error says so with it, and DecodeInto, which then stops, returns it
	// when that buffer was the caller's. The caller must not use that memory again.
	ErrBufferAbandoned = errors.New("erasure: a failed read may still write into the buffer")

	// ErrShardTruncated reports a shard file that ends before a block it must hold.
	ErrShardTruncated = errors.New("erasure: shard file truncated")
)
