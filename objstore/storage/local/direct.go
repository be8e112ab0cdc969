package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/internal/alignbuf"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Large shard files are written with O_DIRECT (issue 11): a buffered write(2) copies every
// byte into the page cache on the writer's CPU, which at 64 MiB puts was the largest cost
// after the disk itself (45 % of a CPU profile's samples); a direct write hands the
// buffer to the device. The copy loop fills aligned buffers from a small ring while
// writer goroutines write the filled ones, so the disk writes overlap the encoding that
// produces the stream, and several writes of one file may be in flight.
const (
	// directMinSize: files of at least this size, or of unknown size, are written
	// directly. Smaller ones (a 1 MiB object's shards) gain nothing from skipping a copy of
	// half a megabyte and would pay the ring's setup.
	directMinSize = 4 << 20
	// directBufSize is the size of each direct write: large enough that the device gets
	// big requests (the block layer splits it and keeps the pieces in flight at once).
	directBufSize = 1 << 20
	// directRing is how many buffers one file's copy owns: directWriters being written
	// while the reader fills the rest.
	directRing = 4
	// directWriters is how many direct writes of one file may be in flight at once.
	directWriters = 2
)

var directBufs = sync.Pool{New: func() any { b := alignbuf.Make(directBufSize); return &b }}

// wantDirect reports whether a new file of size bytes (-1 unknown) is written with O_DIRECT.
func wantDirect(size int64) bool { return size < 0 || size >= directMinSize }

// openDirect opens a new file for writing with O_DIRECT, or without it where the file
// system refuses it (tmpfs: EINVAL); direct says which.
func openDirect(full string) (f *os.File, direct bool, err error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err = os.OpenFile(full, flags|unix.O_DIRECT, dataFilePerm)
	if errors.Is(err, unix.EINVAL) {
		f, err = os.OpenFile(full, flags, dataFilePerm)
		return f, false, err
	}
	return f, err == nil, err
}

// directCopy is one file's copy through aligned buffers: the reader (copyDirect's caller)
// fills a free buffer and queues it; writer goroutines write queued buffers at their offsets
// and hand them back.
type directCopy struct {
	fd   int
	name string
	free chan *[]byte   // buffers nobody fills or writes; never blocks a writer (capacity directRing)
	jobs chan directJob // filled buffers to write, closed by the reader when done
	wg   sync.WaitGroup // the writers

	mu  sync.Mutex
	err error // GUARDED_BY(mu): the first write error; later writes are skipped
}

// directJob is b (a prefix of *bp, a multiple of alignbuf.Align long) to be written at off.
type directJob struct {
	bp  *[]byte
	b   []byte
	off int64
}

// copyDirect copies r into f, opened with O_DIRECT, until io.EOF, refusing more than limit
// bytes when limit >= 0 and stopping when ctx is done. Every write but the last is a full
// aligned buffer at an aligned offset; the last one's aligned part is written directly and
// the rest of it (shorter than alignbuf.Align) through the page cache, after O_DIRECT is
// turned off on the descriptor, so the caller's fdatasync or sync_file_range covers it as
// it covers a buffered file. A file system that takes O_DIRECT at open but refuses a write
// (EINVAL) gets that write and the next ones buffered.
func copyDirect(ctx context.Context, f *os.File, r io.Reader, limit int64) (n int64, err error) {
	w := &directCopy{
		fd:   int(f.Fd()),
		name: f.Name(),
		free: make(chan *[]byte, directRing),
		jobs: make(chan directJob, directRing),
	}
	for range directRing {
		w.free <- directBufs.Get().(*[]byte)
	}
	for range directWriters {
		w.wg.Go(w.writeLoop)
	}
	jobsOpen := true
	finish := func() error {
		if jobsOpen {
			close(w.jobs)
			jobsOpen = false
			w.wg.Wait()
		}
		return w.failed()
	}
	defer func() {
		if ferr := finish(); err == nil && ferr != nil {
			err = ferr
		}
		for range directRing {
			directBufs.Put(<-w.free)
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := w.failed(); err != nil {
			return n, err
		}
		bp := <-w.free
		b := *bp
		m, rerr := fill(r, b)
		if limit >= 0 && n+int64(m) > limit {
			w.free <- bp
			return n, fmt.Errorf("%w: more than %d bytes", storage.ErrLongWrite, limit)
		}
		if rerr != nil && rerr != io.EOF {
			w.free <- bp
			return n, fmt.Errorf("reading the data: %w", rerr)
		}
		aligned := m &^ (alignbuf.Align - 1)
		if aligned > 0 {
			w.jobs <- directJob{bp: bp, b: b[:aligned], off: n}
		} else {
			w.free <- bp
		}
		if rerr == nil {
			n += int64(m) // a full buffer: fill stops short only on an error or io.EOF
			continue
		}
		// io.EOF: the writers finish, then the unaligned tail (still in b, which no one
		// fills again) goes through the page cache.
		if err := finish(); err != nil {
			return n, err
		}
		if tail := b[aligned:m]; len(tail) > 0 {
			if err := setDirect(w.fd, false); err != nil {
				return n, mapErr(&os.PathError{Op: "fcntl", Path: w.name, Err: err})
			}
			if err := pwriteFull(w.fd, tail, n+int64(aligned)); err != nil {
				return n, mapErr(&os.PathError{Op: "pwrite", Path: w.name, Err: err})
			}
		}
		return n + int64(m), nil
	}
}

func (w *directCopy) writeLoop() {
	for j := range w.jobs {
		if w.failed() == nil {
			if err := pwriteDirect(w.fd, j.b, j.off); err != nil {
				w.mu.Lock()
				if w.err == nil {
					w.err = mapErr(&os.PathError{Op: "pwrite", Path: w.name, Err: err})
				}
				w.mu.Unlock()
			}
		}
		w.free <- j.bp
	}
}

func (w *directCopy) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// pwriteDirect writes b at off; if the file system refuses the direct write (EINVAL), it
// turns O_DIRECT off on the descriptor and writes through the page cache.
func pwriteDirect(fd int, b []byte, off int64) error {
	err := pwriteFull(fd, b, off)
	if err == unix.EINVAL {
		if err := setDirect(fd, false); err != nil {
			return err
		}
		return pwriteFull(fd, b, off)
	}
	return err
}

// pwriteFull writes all of b at off, retrying short writes and EINTR.
func pwriteFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		m, err := unix.Pwrite(fd, b, off)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case m == 0:
			return io.ErrShortWrite
		}
		b = b[m:]
		off += int64(m)
	}
	return nil
}

// setDirect turns O_DIRECT on or off on an open descriptor.
func setDirect(fd int, on bool) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}
