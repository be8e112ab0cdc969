package fusefs

import (
	"context"
	"errors"
	"sync"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Readahead: once a handle's reads run sequentially, a goroutine of that handle decodes
// the object ahead of them (the core's ReadInto, which reads the drives' intact data blocks
// straight into the window and verifies them there), one window
// after another, so that a read request is answered from memory without a copy while the
// next windows decode beside the kernel's copying.
const (
	// raWindow is the size of one WriteRange call and of one buffer.
	raWindow = 4 << 20
	// raAhead is how many windows are decoded ahead of the furthest read.
	raAhead = 4
	// raBuffers bounds the buffers of one stream: the windows ahead, the one being read,
	// and one behind it, for the requests the kernel sends out of order.
	raBuffers = raAhead + 2
	// raTrigger is how many sequential reads start a stream.
	raTrigger = 3
)

// windowPool recycles window buffers between streams.
var windowPool = sync.Pool{New: func() any { b := make([]byte, raWindow); return &b }}

// readahead is one handle's sequential read of one object version: its windows, decoded or
// being decoded, and the goroutine that fills them (fill). At most raBuffers buffers of
// raWindow bytes are held at any time, replies still being sent included.
type readahead struct {
	r *sharedReader
	// current reports whether r is still the object's current version; the filler stops
	// once it is not, dropping what it decoded.
	current func() bool
	ctx     context.Context
	cancel  context.CancelFunc

	// mu guards the fields below. Lock order: fileHandle.mu before mu; never held across
	// core calls.
	mu sync.Mutex
	// changed is broadcast when a window is decoded, a read advances, a buffer comes back
	// or the stream stops.
	changed sync.Cond
	// wins are the windows in use. INVARIANT: contiguous, in offset order.
	wins []*window
	// pos is the end of the furthest read answered.
	pos int64
	// next is where the filler's next window starts; filling tells that it still runs.
	next    int64
	filling bool
	// held counts the buffers taken from windowPool and not returned.
	// INVARIANT: held <= raBuffers.
	held    int
	stopped bool
}

// window is a range of the object decoded (or being decoded) into buf. Its fields are
// guarded by the readahead's mu.
type window struct {
	off, end int64
	buf      *[]byte
	// ready tells that decoding ended, with err.
	ready bool
	err   error
	// users counts the replies being sent from buf.
	users int
	// retired tells that the window left the stream: buf goes back to the pool once
	// decoding ended and no reply uses it.
	retired bool
}

// startReadahead starts decoding r from off, for a handle whose reads became sequential.
func startReadahead(parent context.Context, r *sharedReader, off int64, current func() bool) *readahead {
	ctx, cancel := context.WithCancel(parent)
	s := &readahead{r: r, current: current, ctx: ctx, cancel: cancel, pos: off, next: off, filling: true}
	s.changed.L = &s.mu
	r.acquire() // the filler's, released when it ends
	go s.fill(off)
	return s
}

// fill decodes the windows from off to the end of the object, staying raAhead windows
// ahead of the reads, until the stream stops, a decode fails or the version is replaced.
func (s *readahead) fill(off int64) {
	defer s.r.release()
	defer func() {
		s.mu.Lock()
		s.filling = false
		s.changed.Broadcast()
		s.mu.Unlock()
	}()
	for off < s.r.size {
		if !s.current() {
			s.stop()
			return
		}
		s.mu.Lock()
		for !s.stopped && (s.aheadLocked() >= raAhead || s.held >= raBuffers) {
			s.changed.Wait()
		}
		if s.stopped {
			s.mu.Unlock()
			return
		}
		w := &window{off: off, end: min(off+raWindow, s.r.size), buf: windowPool.Get().(*[]byte)}
		s.held++
		s.wins = append(s.wins, w)
		s.next = w.end
		s.mu.Unlock()

		err := s.decode(w)

		s.mu.Lock()
		w.ready, w.err = true, err
		if errors.Is(err, objstore.ErrBufferAbandoned) {
			// A drive read that timed out may still write into the buffer: the pool must
			// not get it back.
			w.buf = nil
			s.held--
		}
		s.freeLocked(w)
		s.changed.Broadcast()
		s.mu.Unlock()
		if err != nil {
			// Reads of this window and after go by range, and report the error.
			return
		}
		off = w.end
	}
}

// decode fills w's buffer with its range of the object: straight from the drives when the
// handle can (objstore.BufferReader), else through WriteRange.
func (s *readahead) decode(w *window) error {
	buf := (*w.buf)[:w.end-w.off]
	if br, ok := s.r.h.(objstore.BufferReader); ok {
		_, err := br.ReadInto(s.ctx, buf, w.off)
		return err
	}
	_, err := s.r.h.WriteRange(s.ctx, &sliceWriter{buf: buf}, w.off, w.end-w.off)
	return err
}

// aheadLocked counts the windows that start at or after the furthest read.
func (s *readahead) aheadLocked() int {
	n := 0
	for _, w := range s.wins {
		if w.off >= s.pos {
			n++
		}
	}
	return n
}

// near reports whether a read at off continues this stream: it falls in its windows or
// just past them. Any other read is a jump.
func (s *readahead) near(off int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	lo, hi := s.pos, s.pos
	if len(s.wins) > 0 {
		lo, hi = s.wins[0].off, s.wins[len(s.wins)-1].end
	}
	return off >= lo-raWindow && off <= hi+raWindow
}

// read answers a read request from the windows. A request inside one window is answered
// with a slice of it, sent without another copy (the buffer stays out of the pool until
// go-fuse calls Done); one across two windows is copied into dest. ok is false when the
// windows do not hold the range (it is not decoded yet, was dropped, or its decoding
// failed): the caller then reads by range.
func (s *readahead) read(dest []byte, off int64) (res fuse.ReadResult, ok bool) {
	end := min(off+int64(len(dest)), s.r.size)
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.readyLocked(off)
	if w == nil {
		return nil, false
	}
	if end <= w.end {
		w.users++
		s.advanceLocked(end)
		return &windowReply{data: (*w.buf)[off-w.off : end-w.off], s: s, w: w}, true
	}
	n := 0
	for p := off; p < end; p = min(end, w.end) {
		if w = s.readyLocked(p); w == nil {
			return nil, false
		}
		n += copy(dest[n:], (*w.buf)[p-w.off:min(end, w.end)-w.off])
	}
	s.advanceLocked(end)
	return fuse.ReadResultData(dest[:n]), true
}

// readyLocked returns the window holding off once it is decoded, or nil if there is none
// (and the filler will not make it without further reads) or its decoding failed.
func (s *readahead) readyLocked(off int64) *window {
	for {
		var found *window
		for _, w := range s.wins {
			if off >= w.off && off < w.end {
				found = w
				break
			}
		}
		switch {
		case s.stopped:
			return nil
		case found == nil && !s.comingLocked(off):
			return nil
		case found == nil:
			// The filler is about to start it.
		case found.ready && found.err != nil:
			return nil
		case found.ready:
			return found
		}
		s.changed.Wait()
		// The window may have been retired meanwhile: look it up again.
	}
}

// comingLocked reports whether off is in the window the filler makes next, and that it
// will make it without waiting for further reads.
func (s *readahead) comingLocked(off int64) bool {
	return s.filling && off >= s.next && off < s.next+raWindow && s.next < s.r.size &&
		s.next-s.pos <= (raAhead-1)*raWindow
}

// advanceLocked notes a read up to end and retires the windows more than one window
// behind it, which lets the filler go on.
func (s *readahead) advanceLocked(end int64) {
	s.pos = max(s.pos, end)
	for len(s.wins) > 0 && s.wins[0].end <= s.pos-raWindow {
		s.retireLocked(s.wins[0])
		s.wins = s.wins[1:]
	}
	s.changed.Broadcast()
}

// stop ends the stream: decoding is cancelled, the windows are dropped and later reads go
// by range. It may be called more than once.
func (s *readahead) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.cancel()
	for _, w := range s.wins {
		s.retireLocked(w)
	}
	s.wins = nil
	s.changed.Broadcast()
}

func (s *readahead) retireLocked(w *window) {
	w.retired = true
	s.freeLocked(w)
}

// freeLocked returns a retired window's buffer to the pool once nothing uses it.
func (s *readahead) freeLocked(w *window) {
	if w.retired && w.ready && w.users == 0 && w.buf != nil {
		windowPool.Put(w.buf)
		w.buf = nil
		s.held--
		s.changed.Broadcast()
	}
}

// windowReply is a read answered from a window.
type windowReply struct {
	data []byte
	s    *readahead
	w    *window
	once sync.Once
	// slices is what Slices returns: data, in an array of the reply's own.
	slices [1][]byte
}

func (r *windowReply) Bytes(buf []byte) ([]byte, fuse.Status) { return r.data, fuse.OK }
func (r *windowReply) Size() int                              { return len(r.data) }

// Slices gives go-fuse the window's bytes to write after the reply's header in one writev,
// after which it calls Done. Without it, with splice off (as the mount runs), go-fuse takes
// Bytes and calls Done before it writes them: the window could go back to the pool and be
// refilled while its bytes were still on their way to the kernel.
func (r *windowReply) Slices() ([][]byte, fuse.Status) {
	r.slices[0] = r.data
	return r.slices[:], fuse.OK
}

// Done lets go of the window once go-fuse sent the bytes.
func (r *windowReply) Done() {
	r.once.Do(func() {
		r.s.mu.Lock()
		r.w.users--
		r.s.freeLocked(r.w)
		r.s.mu.Unlock()
	})
}
