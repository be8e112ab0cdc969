package fusefs

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// sharedReader is an open object version shared by every handle of a file: the handle
// keeps reading that version even if the object is overwritten meanwhile, so a node swaps
// in a new reader (gen) rather than changing this one. It is reference counted: the node
// holds one reference while the reader is current, each read in progress, each readahead
// stream and each reply answered from a stream's window another, and the last release
// closes the object handle.
type sharedReader struct {
	h    objstore.ObjectHandle
	gen  uint64
	size int64
	refs atomic.Int32
}

func newSharedReader(h objstore.ObjectHandle, gen uint64) *sharedReader {
	r := &sharedReader{h: h, gen: gen, size: h.Info().Size}
	r.refs.Store(1)
	return r
}

// acquire adds a reference.
func (r *sharedReader) acquire() { r.refs.Add(1) }

// release drops a reference.
func (r *sharedReader) release() {
	if r.refs.Add(-1) == 0 {
		r.h.Close()
	}
}

// readAt answers a read request by range, straight from the object (random reads, and the
// first reads of a handle, before its readahead starts). The caller's reference to r ends
// with the call.
func (r *sharedReader) readAt(dest []byte, off int64) (fuse.ReadResult, error) {
	defer r.release()
	n, err := r.h.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return fuse.ReadResultData(dest[:n]), nil
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
