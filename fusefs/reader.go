package fusefs

import (
	"sync/atomic"

	"github.com/flashstor/flashstor/objstore"
)

// sharedReader is an open object version shared by every handle of a file: the handle
// keeps reading that version even if the object is overwritten meanwhile, so a node swaps
// in a new reader (gen) rather than changing this one. It is reference counted: the node
// holds one reference while the reader is current, each read in progress another, and the
// last release closes the object handle.
type sharedReader struct {
	h    objstore.ObjectHandle
	gen  uint64
	refs atomic.Int32
}

func newSharedReader(h objstore.ObjectHandle, gen uint64) *sharedReader {
	r := &sharedReader{h: h, gen: gen}
	r.refs.Store(1)
	return r
}

// release drops a reference.
func (r *sharedReader) release() {
	if r.refs.Add(-1) == 0 {
		r.h.Close()
	}
}
