package fusefs

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileHandle is an open file description. Every handle of a file shares its node's
// content, as descriptors of one file do on a local file system.
type fileHandle struct {
	n *fileNode

	// mu guards the readahead state below. Lock order: fileNode.mu (when held) before mu,
	// mu before readahead.mu.
	mu sync.Mutex
	// next is the end of the last read; seq counts the reads in a row that came near it.
	next int64
	seq  int
	// ra is the handle's readahead stream, nil until its reads run sequentially.
	ra *readahead
}

var (
	_ fs.FileReader    = (*fileHandle)(nil)
	_ fs.FileWriter    = (*fileHandle)(nil)
	_ fs.FileFlusher   = (*fileHandle)(nil)
	_ fs.FileFsyncer   = (*fileHandle)(nil)
	_ fs.FileReleaser  = (*fileHandle)(nil)
	_ fs.FileGetattrer = (*fileHandle)(nil)
	_ fs.FileLseeker   = (*fileHandle)(nil)
	_ fs.FileAllocater = (*fileHandle)(nil)
)

// Read reads from the committed object (through a shared reader, without holding the
// node's lock, so reads run in parallel), from the staging file, or nothing for an empty
// file. A read of a file streaming into the core stages it first.
func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n := h.n
	n.mu.Lock()
	if n.c.state == stateClean && !n.unlinked {
		n.refreshLocked()
	}
	if n.c.state == stateStream {
		if errno := n.toStagedLocked(); errno != 0 {
			n.unlock()
			return nil, errno
		}
	}
	size := int64(n.attrs.size)
	if off >= size {
		n.unlock()
		return fuse.ReadResultData(nil), 0
	}
	if want := size - off; int64(len(dest)) > want {
		dest = dest[:want]
	}
	switch n.c.state {
	case stateBuffer:
		m := copy(dest, n.c.buf[off:])
		n.unlock()
		return fuse.ReadResultData(dest[:m]), 0
	case stateStaged:
		m, err := n.c.stage.ReadAt(dest, off)
		n.unlock()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, toErrno(err)
		}
		return fuse.ReadResultData(dest[:m]), 0
	}
	r, errno := n.readerLocked()
	n.unlock()
	if errno != 0 {
		return nil, errno
	}
	if s := h.streamFor(r, off, len(dest)); s != nil {
		if res, ok := s.read(dest, off); ok {
			r.release()
			return res, 0
		}
	}
	res, err := r.readAt(dest, off)
	if err != nil {
		return nil, toErrno(err)
	}
	return res, 0
}

// streamFor notes a read of length bytes at off of the version r, and returns the
// handle's readahead stream if its reads run sequentially, starting one if needed. A
// jump, or a new version of the object, ends the stream it had.
func (h *fileHandle) streamFor(r *sharedReader, off int64, length int) *readahead {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off >= h.next-raWindow && off <= h.next+raWindow {
		h.seq++
		h.next = max(h.next, off+int64(length))
	} else {
		h.seq = 0
		h.next = off + int64(length)
	}
	if h.ra != nil && (h.ra.r != r || !h.ra.near(off)) {
		h.ra.stop()
		h.ra = nil
	}
	if h.ra == nil && h.seq >= raTrigger {
		n := h.n
		h.ra = startReadahead(n.fsys.ctx, r, off, func() bool { return n.gen.Load() == r.gen })
	}
	return h.ra
}

// stopReadahead ends the handle's readahead stream, if any.
func (h *fileHandle) stopReadahead() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ra != nil {
		h.ra.stop()
		h.ra = nil
	}
}

// Write writes at off: a write at the end of a new or emptied file streams into the core,
// any other goes through the staging file.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n := h.n
	n.mu.Lock()
	defer n.unlock()
	m, errno := n.writeLocked(data, off)
	return uint32(m), errno
}

// Flush commits the file (called at every close of a descriptor): when close returns, S3
// clients see the content.
//
// When the commit fails at the close of the file's last descriptor, the changes are
// dropped (the file is the committed object again): the close reported the error, and
// nothing may commit them later behind the caller's back.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	n := h.n
	n.mu.Lock()
	defer n.unlockSync()
	errno := n.commitLocked()
	if errno != 0 && n.opens <= 1 {
		n.discardLocked()
	}
	return errno
}

// Fsync commits the file durably, with write quorum, like Flush; a failed fsync keeps the
// changes, so that the caller may try again. In DurableFsync the commit skips its syncs,
// and the drives' file systems are synced after it: this file, and every commit before.
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	n := h.n
	n.mu.Lock()
	errno := n.commitLocked()
	bucket, key := n.bucket, n.key
	n.unlockSync()
	if errno != 0 {
		return errno
	}
	if b := n.fsys.behind; b != nil {
		// The file's own pending puts, and a failed background commit of it: EIO, as a
		// local file system reports a writeback error at fsync.
		if err := b.FlushKey(n.fsys.ctx, bucket, key); err != nil {
			n.fsys.log.Warn("fusefs: fsync: a background commit of the file failed", "bucket", bucket, "key", key, "err", err)
			return syscall.EIO
		}
	}
	if err := n.fsys.syncDrives(); err != nil {
		n.fsys.log.Warn("fusefs: fsync: syncing the drives", "err", err)
		return syscall.EIO
	}
	return 0
}

// Release closes the handle; the last one commits anything left (a flush that failed) and
// lets go of the staging file and reader.
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.stopReadahead()
	n := h.n
	n.mu.Lock()
	n.opens--
	if n.opens > 0 {
		n.unlockSync()
		return 0
	}
	errno := n.commitLocked()
	if errno != 0 {
		n.fsys.log.Warn("fusefs: commit at the last close failed; the file's changes are lost",
			"bucket", n.bucket, "key", n.key, "errno", errno)
		n.discardLocked()
	}
	n.dropStageLocked()
	n.dropReaderLocked()
	n.unlockSync()
	return 0
}

func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	h.n.getattr(&out.Attr)
	return 0
}

// Lseek answers SEEK_DATA and SEEK_HOLE: files have no holes.
func (h *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n := h.n
	n.mu.Lock()
	size := n.attrs.size
	n.unlock()
	const seekData, seekHole = 3, 4
	switch whence {
	case seekData:
		if off >= size {
			return 0, syscall.ENXIO
		}
		return off, 0
	case seekHole:
		if off > size {
			return 0, syscall.ENXIO
		}
		return size, 0
	}
	return 0, syscall.EINVAL
}

// Allocate extends the file (mode 0) or does nothing (FALLOC_FL_KEEP_SIZE): storage is
// not reserved ahead in the core. Other modes are not supported.
func (h *fileHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	const keepSize = 1
	switch mode {
	case keepSize:
		return 0
	case 0:
	default:
		return syscall.EOPNOTSUPP
	}
	n := h.n
	n.mu.Lock()
	defer n.unlock()
	if end := off + size; end > n.attrs.size {
		return n.truncateLocked(int64(end))
	}
	return 0
}
