package erasureset

import (
	"hash"
	"sync"
)

// asyncChunk is the size of the pieces an asyncHash hashes on its goroutine, and
// asyncChunks how many of them may wait: the writer runs at most that far ahead.
// The first asyncAfter bytes are hashed inline, as long as the writes fit in them: a body
// that small (by default) is stored inline, read whole and then encoded, so its hash has
// nothing to overlap with. Any larger body is hashed on the goroutine from its first write that does
// not fit: its hash then overlaps the encoding, the shard writes and their wait, which at
// 1 MiB it did not when the first 4 MiB were hashed inline (BENCHMARKS.md, issue 11, third
// round: the codec's wall time per 1 MiB put fell from about 1.6 to 1.05 ms).
const (
	asyncChunk  = 256 << 10
	asyncChunks = 4
	asyncAfter  = DefaultInlineLimit + 1
)

var asyncChunkBufs = sync.Pool{New: func() any { b := make([]byte, 0, asyncChunk); return &b }}

// asyncHash computes a hash (the ETag's MD5, which cannot be split) on a goroutine of its
// own, so that a put's body is hashed while the same goroutine that reads it goes on to
// encode it: on its reading goroutine MD5 took half of a large put's CPU time and ran
// before each stripe could be written. Past its first asyncAfter bytes (hashed inline, see
// asyncAfter), Write copies its bytes (the caller reuses them) into chunks for the goroutine.
//
// Write and Sum are called by one goroutine; Sum may be called once, after the last Write.
// Close ends the goroutine of a hash whose Sum will not be called.
type asyncHash struct {
	h hash.Hash
	// cur is the chunk being filled; nil once the hash is finished.
	cur *[]byte
	// work carries filled chunks to the hashing goroutine, in order; nil until it runs.
	work chan *[]byte
	// slots bounds the chunks in flight: a Write that fills one takes a slot, the
	// goroutine gives it back once the chunk is hashed.
	slots chan struct{}
	done  chan struct{} // closed when the goroutine has returned
	// inline is how many more bytes Write may hash itself, while no chunk holds bytes
	// and the goroutine has not started (it owns h then, even for an empty Write); once
	// a Write does not fit, every later byte goes through the chunks, so the order is kept.
	inline int
}

func newAsyncHash(h hash.Hash) *asyncHash {
	return &asyncHash{h: h, cur: asyncChunkBufs.Get().(*[]byte), inline: asyncAfter}
}

// Write copies p into the hash's chunks; it never fails.
func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	if a.work == nil && len(*a.cur) == 0 && n <= a.inline {
		a.inline -= n
		return a.h.Write(p)
	}
	a.inline = 0
	for len(p) > 0 {
		c := *a.cur
		m := copy(c[len(c):cap(c)], p)
		*a.cur = c[:len(c)+m]
		p = p[m:]
		if len(*a.cur) == asyncChunk {
			a.send()
		}
	}
	return n, nil
}

// send hands the full current chunk to the goroutine, starting it first if need be, and
// takes a fresh one.
func (a *asyncHash) send() {
	if a.work == nil {
		a.work = make(chan *[]byte, asyncChunks)
		a.slots = make(chan struct{}, asyncChunks)
		a.done = make(chan struct{})
		go a.run(a.work, a.slots, a.done)
	}
	a.slots <- struct{}{}
	a.work <- a.cur
	a.cur = asyncChunkBufs.Get().(*[]byte)
}

func (a *asyncHash) run(work <-chan *[]byte, slots <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for c := range work {
		a.h.Write(*c)
		*c = (*c)[:0]
		asyncChunkBufs.Put(c)
		<-slots
	}
}

// finish hashes what is left (unless discard) and stops the goroutine.
func (a *asyncHash) finish(discard bool) {
	if a.cur == nil {
		return
	}
	if a.work != nil {
		close(a.work)
		<-a.done
	}
	if !discard {
		a.h.Write(*a.cur)
	}
	*a.cur = (*a.cur)[:0]
	asyncChunkBufs.Put(a.cur)
	a.cur = nil
}

// Sum appends the hash of everything written to b.
func (a *asyncHash) Sum(b []byte) []byte {
	a.finish(false)
	return a.h.Sum(b)
}

// Close stops the goroutine of a hash that is given up (after Sum it has none) and
// closes the hash it feeds, if that has a Close (an md5lanes.Hash's releases its count).
func (a *asyncHash) Close() {
	a.finish(true)
	if c, ok := a.h.(interface{ Close() }); ok {
		c.Close()
	}
}

// Reset is not supported: an asyncHash is used for one body.
func (a *asyncHash) Reset() { panic("erasureset: asyncHash.Reset") }

func (a *asyncHash) Size() int      { return a.h.Size() }
func (a *asyncHash) BlockSize() int { return a.h.BlockSize() }

var _ hash.Hash = (*asyncHash)(nil)
