// Package asynchash feeds a hash (any writer) from a goroutine of its own, so that hashing
// a body overlaps the work of the goroutine that reads it: a put's ETag MD5 in the object
// core, a request body's SHA-256, Content-MD5 and checksum in the S3 face. Those hashes
// cannot be split, and on the reading goroutine they ran before each stripe could be
// encoded and written (objstore/BENCHMARKS.md, issue 11).
package asynchash

import (
	"io"
	"sync"
)

// Chunk is the size of the pieces a Writer hands its goroutine, and Chunks how many of
// them may wait: the writer runs at most that far ahead.
const (
	Chunk  = 256 << 10
	Chunks = 4
)

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 0, Chunk); return &b }}

// Writer copies what is written to it (the caller may reuse its buffer at once) into
// chunks that a goroutine writes to the sink. The first bytes, up to the inline count
// given to New, go to the sink directly, as long as the writes fit in them: a body that
// small has little to overlap and needs no goroutine. Write, Flush and Close are called by
// one goroutine.
type Writer struct {
	sink io.Writer
	// cur is the chunk being filled, taken at the first write that is not inline.
	cur *[]byte
	// finished is set by Flush or Close.
	finished bool
	// work carries filled chunks to the goroutine, in order; nil until it runs.
	work chan *[]byte
	// slots bounds the chunks in flight: a Write that fills one takes a slot, the
	// goroutine gives it back once the chunk is written.
	slots chan struct{}
	done  chan struct{} // closed when the goroutine has returned
	// inline is how many more bytes Write may give the sink itself, while no chunk holds
	// bytes and the goroutine has not started (it owns the sink then, even for an empty
	// Write); once a Write does not fit, every later byte goes through the chunks, so the
	// order is kept.
	inline int
}

// New returns a Writer feeding sink, which it writes to directly for the first inline
// bytes. A Writer whose writes all fit there holds no chunk and starts no goroutine.
func New(sink io.Writer, inline int) *Writer {
	return &Writer{sink: sink, inline: inline}
}

// Write copies p for the sink; it never fails (the sink's errors are not reported: a
// hash's Write never fails).
func (a *Writer) Write(p []byte) (int, error) {
	n := len(p)
	if a.cur == nil && n <= a.inline {
		a.inline -= n
		a.sink.Write(p)
		return n, nil
	}
	a.inline = 0
	if a.cur == nil {
		a.cur = chunkBufs.Get().(*[]byte)
	}
	for len(p) > 0 {
		c := *a.cur
		m := copy(c[len(c):cap(c)], p)
		*a.cur = c[:len(c)+m]
		p = p[m:]
		if len(*a.cur) == Chunk {
			a.send()
		}
	}
	return n, nil
}

// send hands the full current chunk to the goroutine, starting it first if need be, and
// takes a fresh one.
func (a *Writer) send() {
	if a.work == nil {
		a.work = make(chan *[]byte, Chunks)
		a.slots = make(chan struct{}, Chunks)
		a.done = make(chan struct{})
		go a.run(a.work, a.slots, a.done)
	}
	a.slots <- struct{}{}
	a.work <- a.cur
	a.cur = chunkBufs.Get().(*[]byte)
}

func (a *Writer) run(work <-chan *[]byte, slots <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for c := range work {
		a.sink.Write(*c)
		*c = (*c)[:0]
		chunkBufs.Put(c)
		<-slots
	}
}

// Flush returns once the sink has been given every byte written, and stops the goroutine:
// the sink may then be read (a hash's Sum). Write must not be called after it.
func (a *Writer) Flush() { a.finish(false) }

// Close stops the goroutine of a Writer whose sink will not be read, without giving it
// what is left. It may be called after Flush, and more than once.
func (a *Writer) Close() { a.finish(true) }

func (a *Writer) finish(discard bool) {
	if a.finished {
		return
	}
	a.finished = true
	if a.work != nil {
		close(a.work)
		<-a.done
	}
	if a.cur == nil {
		return
	}
	if !discard {
		a.sink.Write(*a.cur)
	}
	*a.cur = (*a.cur)[:0]
	chunkBufs.Put(a.cur)
	a.cur = nil
}

// Running reports whether the goroutine was started and has not returned, for tests.
func (a *Writer) Running() bool {
	if a.work == nil {
		return false
	}
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}
