package fusefs

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Readahead: once a handle's reads run sequentially, chunks of the object are decoded
// ahead of them in the background (the core's whole-stripe fast path, WriteRange), so that
// a read request is a memory copy and the drives' latency is off the request path.
const (
	raChunk = 4 << 20
	// raDepth is how many chunks are decoded ahead of the reader.
	raDepth = 4
	// raTrigger is how many sequential reads start the readahead.
	raTrigger = 3
)

// chunkPool recycles readahead buffers.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, raChunk); return &b }}

// sharedReader is an open object version shared by every handle of a file: the handle
// keeps reading that version even if the object is overwritten meanwhile, so a node swaps
// in a new reader (gen) rather than changing this one. It is reference counted: the node
// holds one reference while the reader is current, each read in progress and each chunk
// being decoded another, and the last release closes the object handle.
type sharedReader struct {
	h    objstore.ObjectHandle
	gen  uint64
	size int64
	refs atomic.Int32

	// mu guards the readahead state below. Lock order: fileNode.mu (when held) before mu.
	mu sync.Mutex
	// chunks are the chunks decoded or being decoded, in offset order, contiguous.
	chunks []*chunk
	// next is the end of the last read; seq counts the reads in a row that came near it.
	next int64
	seq  int
}

// chunk is a range of the object decoded ahead.
type chunk struct {
	off, end int64
	buf      *[]byte
	done     chan struct{}
	err      error
	// users counts the reads copying out of buf; a dropped chunk's buffer goes back to the
	// pool when the last one ends. Guarded by the reader's mu.
	users   int
	dropped bool
}

func newSharedReader(h objstore.ObjectHandle, gen uint64) *sharedReader {
	r := &sharedReader{h: h, gen: gen, size: h.Info().Size}
	r.refs.Store(1)
	return r
}

// release drops a reference.
func (r *sharedReader) release() {
	if r.refs.Add(-1) == 0 {
		r.mu.Lock()
		for _, c := range r.chunks {
			r.dropLocked(c)
		}
		r.chunks = nil
		r.mu.Unlock()
		r.h.Close()
	}
}

// read answers a read request. When the request falls inside one readahead chunk, the
// answer is a slice of that chunk, sent to the kernel without another copy; the chunk (and
// the reader) stay in use until go-fuse calls Done. Otherwise the bytes are read into dest.
// The caller's reference to r passes to the result.
func (r *sharedReader) read(dest []byte, off int64) (fuse.ReadResult, error) {
	end := min(off+int64(len(dest)), r.size)
	if c := r.chunkFor(off, len(dest)); c != nil {
		<-c.done
		if c.err == nil && end <= c.end {
			return &chunkResult{data: (*c.buf)[off-c.off : end-c.off], r: r, c: c}, nil
		}
		r.unuse(c)
	}
	defer r.release()
	n, err := r.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return fuse.ReadResultData(dest[:n]), nil
}

// chunkResult is a read answered from a readahead chunk.
type chunkResult struct {
	data []byte
	r    *sharedReader
	c    *chunk
	done atomic.Bool
}

func (c *chunkResult) Bytes(buf []byte) ([]byte, fuse.Status) { return c.data, fuse.OK }
func (c *chunkResult) Size() int                              { return len(c.data) }

// Done lets go of the chunk and the reader, once go-fuse sent the bytes.
func (c *chunkResult) Done() {
	if c.done.CompareAndSwap(false, true) {
		c.r.unuse(c.c)
		c.r.release()
	}
}

// unuse ends a read's use of a chunk.
func (r *sharedReader) unuse(c *chunk) {
	r.mu.Lock()
	c.users--
	if c.dropped && c.users == 0 {
		chunkPool.Put(c.buf)
	}
	r.mu.Unlock()
}

// ReadAt reads from the readahead chunks when the reads are sequential, else straight from
// the object.
func (r *sharedReader) ReadAt(p []byte, off int64) (int, error) {
	var n int
	for n < len(p) && off+int64(n) < r.size {
		c := r.chunkFor(off+int64(n), len(p)-n)
		if c == nil {
			m, err := r.h.ReadAt(p[n:], off+int64(n))
			return n + m, err
		}
		<-c.done
		if c.err == nil {
			n += copy(p[n:], (*c.buf)[off+int64(n)-c.off:c.end-c.off])
		}
		r.unuse(c)
		if c.err != nil {
			return n, c.err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// chunkFor returns the chunk holding off, with a use counted, or nil if the reads are not
// sequential. It starts the chunks ahead as the reader moves.
func (r *sharedReader) chunkFor(off int64, length int) *chunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off >= r.next-raChunk && off <= r.next+raChunk {
		r.seq++
	} else {
		r.seq = 0
	}
	r.next = max(r.next, off+int64(length))
	if r.seq < raTrigger {
		return nil
	}
	// Drop the chunks more than one chunk behind the reader.
	for len(r.chunks) > 0 && r.chunks[0].end <= off-raChunk {
		r.dropLocked(r.chunks[0])
		r.chunks = r.chunks[1:]
	}
	var found *chunk
	for _, c := range r.chunks {
		if off >= c.off && off < c.end {
			found = c
			break
		}
	}
	if found == nil {
		// The reader jumped past the chunks: start over where it is.
		for _, c := range r.chunks {
			r.dropLocked(c)
		}
		r.chunks = nil
		r.startLocked(off / raChunk * raChunk)
		found = r.chunks[0]
	}
	ahead := 0
	for _, c := range r.chunks {
		if c.off > off {
			ahead++
		}
	}
	for ; ahead < raDepth; ahead++ {
		last := r.chunks[len(r.chunks)-1]
		if last.end >= r.size {
			break
		}
		r.startLocked(last.end)
	}
	found.users++
	return found
}

// startLocked starts decoding the chunk at off.
func (r *sharedReader) startLocked(off int64) {
	c := &chunk{off: off, end: min(off+raChunk, r.size), buf: chunkPool.Get().(*[]byte), done: make(chan struct{})}
	r.chunks = append(r.chunks, c)
	r.refs.Add(1)
	go func() {
		defer r.release()
		defer close(c.done)
		buf := (*c.buf)[:c.end-c.off]
		w := &sliceWriter{buf: buf}
		if _, err := r.h.WriteRange(context.Background(), w, c.off, c.end-c.off); err != nil {
			c.err = err
		}
	}()
}

// dropLocked forgets a chunk; its buffer is reused once no read copies from it and its
// decoding ended.
func (r *sharedReader) dropLocked(c *chunk) {
	c.dropped = true
	select {
	case <-c.done:
		if c.users == 0 {
			chunkPool.Put(c.buf)
		}
	default:
		// Still decoding: the buffer is left to the garbage collector.
	}
}

// sliceWriter writes into a fixed slice.
type sliceWriter struct {
	buf []byte
	n   int
}

func (s *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(s.buf)-s.n {
		return 0, io.ErrShortWrite
	}
	copy(s.buf[s.n:], p)
	s.n += len(p)
	return len(p), nil
}
