package fusefs

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// contentState is where a file's content lives.
type contentState int8

const (
	// stateClean: the content is the committed object; reads go to the core.
	stateClean contentState = iota
	// stateBuffer: the content is a new or emptied file's first bytes, written
	// sequentially, held in memory (at most streamThreshold) and not in the core yet. A
	// small file is committed whole with one put, with the attributes set before its
	// close; a larger one starts streaming when it outgrows the buffer.
	stateBuffer
	// stateStream: a sequential write is streaming into the core; the content is what was
	// streamed so far. A write anywhere but at the end, a read or a truncate stages it.
	stateStream
	// stateStaged: the content is a local staging file, for random writes, overwrites and
	// appends; it is committed whole.
	stateStaged
)

// content is a file's content. Every field is guarded by the fileNode's mu.
type content struct {
	state contentState
	// dirty tells that the content differs from the committed object.
	dirty bool
	// stream is the running put of stateStream.
	stream *stream
	// stage is the staging file of stateStaged (unlinked: it lives as long as it is open).
	stage *os.File
	// buf is the content of stateBuffer.
	buf []byte
}

// streamThreshold is the most a new file's buffer holds before the file streams into the
// core: files up to this size cost one put, with their final metadata.
const streamThreshold = 1 << 20

// stream is a PutObject of unknown size running in its own goroutine, fed through a pipe
// by the file's writes: the data goes to the core as it arrives, nothing is held in memory.
type stream struct {
	pw *io.PipeWriter
	// meta is the metadata the put stores; done closes when the put returns with info
	// and err.
	meta    map[string]string
	done    chan struct{}
	info    objstore.ObjectInfo
	err     error
	written int64
}

// errAborted aborts a stream: the put fails and the previous object stays.
var errAborted = errors.New("fusefs: write aborted")

// writeLocked writes data at off.
func (n *fileNode) writeLocked(data []byte, off int64) (int, syscall.Errno) {
	if n.werr != 0 {
		return 0, n.werr
	}
	switch {
	case n.c.state == stateBuffer && off == int64(len(n.c.buf)) && len(n.c.buf)+len(data) <= streamThreshold:
		n.c.buf = append(n.c.buf, data...)
		n.c.dirty = true
		n.attrs.size = uint64(len(n.c.buf))
		n.touchLocked()
		return len(data), 0
	case n.c.state == stateBuffer && off == int64(len(n.c.buf)) && !n.unlinked:
		if errno := n.startStreamLocked(); errno != 0 {
			return 0, errno
		}
	case n.c.state == stateStream && off == n.c.stream.written:
	case n.c.state == stateStaged:
	default:
		if errno := n.toStagedLocked(); errno != 0 {
			return 0, errno
		}
	}
	var written int
	if n.c.state == stateStream {
		s := n.c.stream
		m, err := s.pw.Write(data)
		s.written += int64(m)
		written = m
		if err != nil {
			// The put failed: what was streamed is lost. The error sticks until the
			// file's flush discards the changes.
			<-s.done
			n.werr = toErrno(s.err)
			return 0, n.werr
		}
	} else {
		m, err := n.c.stage.WriteAt(data, off)
		written = m
		if err != nil {
			return m, toErrno(err)
		}
	}
	if end := uint64(off) + uint64(written); end > n.attrs.size {
		n.attrs.size = end
	}
	if n.c.state != stateStream {
		// A stream stored its mtime when it started; the file shows that one throughout,
		// so that its time does not change when it is committed.
		n.touchLocked()
	}
	n.c.dirty = true
	return written, 0
}

// touchLocked sets mtime and ctime to now, for a change of content.
func (n *fileNode) touchLocked() {
	now := time.Now()
	n.attrs.mtime, n.attrs.ctime = now, now
}

// startStreamLocked starts streaming the file into the core, beginning with its buffer.
func (n *fileNode) startStreamLocked() syscall.Errno {
	buf := n.c.buf
	pr, pw := io.Pipe()
	n.touchLocked()
	s := &stream{pw: pw, meta: n.objectMetaLocked(), done: make(chan struct{})}
	n.metaDirty = false
	bucket, key := n.bucket, n.key
	go func() {
		defer close(s.done)
		s.info, s.err = n.fsys.layer.PutObject(n.fsys.ctx, bucket, key, pr, -1, objstore.PutOptions{Metadata: s.meta})
		// Unblock a write still waiting on the pipe: it gets the put's error.
		pr.CloseWithError(cmp.Or(s.err, io.ErrClosedPipe))
	}()
	n.c = content{state: stateStream, dirty: true, stream: s}
	if len(buf) > 0 {
		m, err := pw.Write(buf)
		s.written = int64(m)
		if err != nil {
			<-s.done
			n.werr = toErrno(s.err)
			return n.werr
		}
	}
	return 0
}

// finishStreamLocked ends the stream and waits for the put: the content is then clean.
func (n *fileNode) finishStreamLocked() syscall.Errno {
	s := n.c.stream
	// The put commits when its body ends: a file with several names commits its intent
	// first.
	end := func(bool) {}
	if len(n.links) > 0 {
		var errno syscall.Errno
		if end, errno = n.beginNamesLocked(n.key, n.namesLocked(), nil); errno != 0 {
			n.discardLocked() // the stream is aborted: nothing committed
			return errno
		}
	}
	s.pw.Close()
	<-s.done
	if s.err != nil {
		// What was streamed is lost: the file is the committed object again.
		end(true)
		errno := toErrno(s.err)
		n.discardLocked()
		return errno
	}
	n.committedLocked(s.info)
	n.c = content{state: stateClean}
	errno := n.syncLinksLocked()
	// Attributes changed while streaming (chmod, utimens) were not in the put's metadata.
	if errno == 0 && n.metaDirty {
		errno = n.storeMetaUnjournaledLocked()
	}
	end(errno == 0)
	return errno
}

// abortStreamLocked ends the stream without committing: the previous object stays.
func (n *fileNode) abortStreamLocked() {
	s := n.c.stream
	s.pw.CloseWithError(errAborted)
	<-s.done
	n.c = content{state: stateBuffer, dirty: true}
}

// committedLocked records a version the mount committed.
func (n *fileNode) committedLocked(info objstore.ObjectInfo) {
	atimeSet, metaDirty, meta := n.atimeSet, n.metaDirty, n.meta
	a := n.attrs
	n.loadInfoLocked(info)
	n.atimeSet, n.metaDirty = atimeSet, metaDirty
	if metaDirty {
		// Keep the attributes and metadata (xattrs) set while the stream ran; they are
		// stored next.
		n.attrs.mode, n.attrs.uid, n.attrs.gid = a.mode, a.uid, a.gid
		n.attrs.mtime, n.attrs.atime, n.attrs.ctime = a.mtime, a.atime, a.ctime
		n.meta = meta
	}
	n.committed = true
	n.attrGen = n.gen.Load()
	n.dropReaderLocked()
}

// toStagedLocked moves the content to a staging file: a stream is committed first, then the
// committed object is copied down.
func (n *fileNode) toStagedLocked() syscall.Errno {
	switch n.c.state {
	case stateStaged:
		return 0
	case stateStream:
		if errno := n.finishStreamLocked(); errno != 0 {
			return errno
		}
	}
	f, err := n.fsys.newStagingFile()
	if err != nil {
		return toErrno(err)
	}
	if n.c.state == stateBuffer {
		if _, err := f.WriteAt(n.c.buf, 0); err != nil {
			f.Close()
			return toErrno(err)
		}
		n.c.buf = nil
	}
	if n.c.state == stateClean && n.attrs.size > 0 {
		if errno := n.download(f); errno != 0 {
			f.Close()
			return errno
		}
	}
	n.c.state, n.c.stage = stateStaged, f
	return 0
}

// download copies the committed object into f.
func (n *fileNode) download(f *os.File) syscall.Errno {
	r, errno := n.readerLocked()
	if errno != 0 {
		return errno
	}
	defer r.release()
	size := r.h.Info().Size
	if _, err := r.h.WriteRange(n.fsys.ctx, io.NewOffsetWriter(f, 0), 0, size); err != nil {
		return toErrno(err)
	}
	n.attrs.size = uint64(size)
	return 0
}

// truncateLocked sets the content's size. Truncating to zero needs no staging: a stream is
// aborted and the file is empty again.
func (n *fileNode) truncateLocked(size int64) syscall.Errno {
	if size < 0 {
		return syscall.EINVAL
	}
	if uint64(size) == n.attrs.size && n.c.state != stateStream {
		// The content stays, but the times move, as ext4 moves them for a truncate to the
		// size a file has; they are stored as an attribute change.
		n.touchLocked()
		n.metaDirty = true
		return 0
	}
	if size == 0 {
		switch n.c.state {
		case stateStream:
			n.abortStreamLocked()
		case stateStaged:
			n.dropStageLocked()
		}
		n.c = content{state: stateBuffer, dirty: true}
	} else {
		if errno := n.toStagedLocked(); errno != 0 {
			return errno
		}
		if err := n.c.stage.Truncate(size); err != nil {
			return toErrno(err)
		}
		n.c.dirty = true
	}
	n.attrs.size = uint64(size)
	n.touchLocked()
	return 0
}

// commitLocked makes the content and attributes durable in the core (write quorum) before
// it returns: the flush, fsync and close of a file.
func (n *fileNode) commitLocked() syscall.Errno {
	if n.werr != 0 {
		errno := n.werr
		n.discardLocked()
		return errno
	}
	if n.unlinked {
		return 0
	}
	if !n.c.dirty {
		return n.storeMetaLocked()
	}
	var info objstore.ObjectInfo
	var err error
	ctx := n.fsys.ctx
	if n.c.state == stateStream {
		return n.finishStreamLocked()
	}
	// A file with several names commits its intent before the first of them changes.
	end := func(bool) {}
	if len(n.links) > 0 {
		var errno syscall.Errno
		if end, errno = n.beginNamesLocked(n.key, n.namesLocked(), nil); errno != 0 {
			return errno
		}
	}
	switch n.c.state {
	case stateBuffer:
		md := n.objectMetaLocked()
		n.metaDirty = false
		taken := false
		if b := n.fsys.behind; b != nil && len(n.links) == 0 {
			// Write-behind: the core shows the object at once and commits it later; the
			// buffer is the core's from here (the content is clean below).
			info, taken, err = b.PutBehind(ctx, n.bucket, n.key, n.c.buf, objstore.PutOptions{Metadata: md})
		}
		if !taken && err == nil {
			info, err = n.fsys.layer.PutObject(ctx, n.bucket, n.key, bytes.NewReader(n.c.buf), int64(len(n.c.buf)), objstore.PutOptions{Metadata: md})
		}
	case stateStaged:
		md := n.objectMetaLocked()
		n.metaDirty = false
		size := int64(n.attrs.size)
		info, err = n.fsys.layer.PutObject(ctx, n.bucket, n.key, io.NewSectionReader(n.c.stage, 0, size), size, objstore.PutOptions{Metadata: md})
	}
	if err != nil {
		end(true) // no name changed
		n.metaDirty = true
		return toErrno(err)
	}
	n.committedLocked(info)
	n.c.dirty = false
	if n.c.state == stateBuffer {
		n.c = content{state: stateClean}
	}
	errno := n.syncLinksLocked()
	if errno == 0 {
		errno = n.storeMetaUnjournaledLocked()
	}
	end(errno == 0)
	return errno
}

// discardLocked drops the content's uncommitted changes: the file is the committed
// object again (reread at the next use), or gone if it never was committed.
func (n *fileNode) discardLocked() {
	if n.c.state == stateStream {
		select {
		case <-n.c.stream.done: // the put ended (and failed)
		default:
			n.abortStreamLocked()
		}
	}
	n.dropStageLocked()
	n.c = content{state: stateClean}
	n.metaDirty = false
	n.werr = 0
	n.invalidate = true
	if !n.committed {
		n.unlinked, n.vanished = true, true
		n.attrs.size = 0
		return
	}
	n.reload = true
}

// dropStageLocked closes a clean or discarded staging file.
func (n *fileNode) dropStageLocked() {
	if n.c.stage != nil {
		n.c.stage.Close()
		n.c.stage = nil
		n.c.state = stateClean
	}
}

// dropReaderLocked lets go of the node's reader (open reads keep theirs until they end).
func (n *fileNode) dropReaderLocked() {
	if n.reader != nil {
		n.reader.release()
		n.reader = nil
	}
}

// readerLocked returns the shared reader of the committed version, with a reference for
// the caller, opening it if there is none or if someone else changed the object since.
func (n *fileNode) readerLocked() (*sharedReader, syscall.Errno) {
	g := n.gen.Load()
	if n.reader != nil && n.reader.gen != g {
		n.dropReaderLocked()
	}
	if n.reader == nil {
		h, err := n.fsys.layer.OpenObject(n.fsys.ctx, n.bucket, n.key)
		if err != nil {
			return nil, toErrno(err)
		}
		n.reader = newSharedReader(h, g)
	}
	n.reader.acquire()
	return n.reader, 0
}
