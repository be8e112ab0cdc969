package erasureset

import (
	"errors"
	"io"

	"github.com/flashstor/flashstor/erasure"
)

// isBitrot reports whether a shard error means damaged stored bytes (a checksum mismatch or
// a short file), as opposed to a shard that is missing or a drive that failed to answer.
func isBitrot(err error) bool {
	return errors.Is(err, erasure.ErrShardCorrupt) || errors.Is(err, erasure.ErrShardTruncated)
}

// countReadBitrot counts the damaged shards among those a heal read: shardErrs as
// erasure.Codec.Heal returns them, where the entries of the shards being rebuilt (writers
// not nil) are write errors, not findings.
func countReadBitrot(shardErrs []error, writers []io.Writer) int {
	n := 0
	for i, err := range shardErrs {
		if writers[i] == nil && isBitrot(err) {
			n++
		}
	}
	return n
}

// reportBitrot passes a count of damaged shards to the OnBitrot hook, if any.
func (s *Set) reportBitrot(shards int) {
	if shards > 0 && s.cfg.OnBitrot != nil {
		s.cfg.OnBitrot(shards)
	}
}
