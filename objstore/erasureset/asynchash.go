package erasureset

import (
	"hash"

	"github.com/flashstor/flashstor/internal/asynchash"
)

// asyncAfter is how many of a body's first bytes are hashed inline, as long as the writes
// fit in them: a body that small (by default) is stored inline, read whole and then
// encoded, so its hash has nothing to overlap with. Any larger body is hashed on a
// goroutine of its own from its first write that does not fit: its hash then overlaps the
// encoding, the shard writes and their wait, which at 1 MiB it did not when the first 4 MiB
// were hashed inline (BENCHMARKS.md, issue 11, third round: the codec's wall time per
// 1 MiB put fell from about 1.6 to 1.05 ms).
const asyncAfter = DefaultInlineLimit + 1

// asyncHash computes a hash (the ETag's MD5, which cannot be split) on a goroutine of its
// own (asynchash), so that a put's body is hashed while the goroutine that reads it goes
// on to encode it: on its reading goroutine MD5 took half of a large put's CPU time and
// ran before each stripe could be written.
//
// Write and Sum are called by one goroutine; Sum may be called once, after the last Write.
// Close ends the goroutine of a hash whose Sum will not be called.
type asyncHash struct {
	w *asynchash.Writer
	h hash.Hash
}

func newAsyncHash(h hash.Hash) *asyncHash {
	return &asyncHash{w: asynchash.New(h, asyncAfter), h: h}
}

// Write copies p for the hash; it never fails.
func (a *asyncHash) Write(p []byte) (int, error) { return a.w.Write(p) }

// Sum appends the hash of everything written to b.
func (a *asyncHash) Sum(b []byte) []byte {
	a.w.Flush()
	return a.h.Sum(b)
}

// Close stops the goroutine of a hash that is given up (after Sum it has none) and
// closes the hash it feeds, if that has a Close (an md5lanes.Hash's releases its count).
func (a *asyncHash) Close() {
	a.w.Close()
	if c, ok := a.h.(interface{ Close() }); ok {
		c.Close()
	}
}
