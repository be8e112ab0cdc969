package erasure

import (
	"fmt"
	"math"
)

// Stripes returns the number of stripes of an object of size bytes: ceil(size/B). It returns
// 0 for size <= 0.
func (c *Codec) Stripes(size int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size-1)/c.blockSize + 1
}

// BlockSize returns the length in bytes of each shard's block of the given stripe (checksum
// not included) for an object of size bytes, or 0 if the object has no such stripe.
func (c *Codec) BlockSize(size, stripe int64) int {
	if stripe < 0 || stripe >= c.Stripes(size) {
		return 0
	}
	l := min(c.blockSize, size-stripe*c.blockSize)
	return int((l + int64(c.k) - 1) / int64(c.k))
}

// BlockOffset returns the offset in every shard file of the checksum that starts the given
// stripe's block. Every stripe but the last is full, so it does not depend on the object's
// size.
func (c *Codec) BlockOffset(stripe int64) int64 {
	return stripe * int64(c.hashSize+c.bfull)
}

// ShardFileSize returns the exact length of each shard file of an object of size bytes (all
// k+m shard files have the same length). It returns -1 for a negative size or one whose shard
// files would be longer than math.MaxInt64.
func (c *Codec) ShardFileSize(size int64) int64 {
	if size < 0 {
		return -1
	}
	if size == 0 {
		return 0
	}
	full := size / c.blockSize
	framed := int64(c.hashSize + c.bfull)
	if full > math.MaxInt64/framed {
		return -1
	}
	n := full * framed
	if rest := size - full*c.blockSize; rest > 0 {
		last := int64(c.hashSize) + (rest+int64(c.k)-1)/int64(c.k)
		if n > math.MaxInt64-last {
			return -1
		}
		n += last
	}
	return n
}

// checkSize rejects an object size the geometry cannot describe.
func (c *Codec) checkSize(size int64) error {
	if c.ShardFileSize(size) < 0 {
		return fmt.Errorf("%w: object size %d", ErrInvalidArgument, size)
	}
	return nil
}
