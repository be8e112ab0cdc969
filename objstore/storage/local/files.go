package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// copyBufSize is the size of the buffers CreateFile copies through: large enough that a
// shard stream goes to the file system in few system calls.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// CreateFile writes r to a new file at path and syncs it, unless ctx defers the sync
// (storage.WithDeferredSync).
func (d *Drive) CreateFile(ctx context.Context, volume, p string, size int64, r io.Reader) error {
	full, err := d.treePath(volume, p)
	if err != nil {
		return err
	}
	if err := d.settle(volume, p, false); err != nil {
		return err
	}
	if err := d.writeNew(ctx, full, size, r, createSync(ctx, d.oneCommit)); err != nil {
		return fmt.Errorf("create %s/%s on %s: %w", volume, p, d.root, err)
	}
	return nil
}

// createSync returns how CreateFile makes a file durable under ctx, on a drive whose file
// system does (oneCommit) or does not make a commit's data and names durable at once.
func createSync(ctx context.Context, oneCommit bool) fileSync {
	switch {
	case storage.DeferredSync(ctx):
		return syncNone
	case storage.SyncAtCommit(ctx) && oneCommit:
		return syncWithCommit
	}
	return syncNow
}

// fileSync is how writeNew makes a new file durable.
type fileSync int

const (
	// syncNow: the file is durable when writeNew returns (fdatasync; the parents it
	// creates are synced, unless in the staging area).
	syncNow fileSync = iota
	// syncNone: nothing is synced (storage.WithDeferredSync).
	syncNone
	// syncWithCommit: the file's writeback is started, not waited for, and nothing is
	// committed; the durable CommitObject that names the file (under the same mark) waits
	// for its data before its renames, and its journal commit then makes the data (on the
	// device by then) and every name leading to it durable together
	// (storage.WithSyncAtCommit on a oneCommitFS drive: see waitStagedData).
	syncWithCommit
)

// writeNew writes r to the new file full, creating its parents, and makes it as durable as
// how says; on any error the partial file is removed.
func (d *Drive) writeNew(ctx context.Context, full string, size int64, r io.Reader, how fileSync) (err error) {
	durable := how == syncNow
	if err := mkdirAll(d.root, filepath.Dir(full), durable && !d.isStaging(full)); err != nil {
		return mapErr(err)
	}
	var f *os.File
	direct := false
	if wantDirect(size) {
		f, direct, err = openDirect(full)
	} else {
		f, err = os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, dataFilePerm)
	}
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = mapErr(cerr)
		}
		if err != nil {
			os.Remove(full)
		}
	}()
	if size > copyBufSize || (direct && size > 0) {
		// Reserving the space up front keeps the file contiguous and fails early on a full
		// drive; file systems without fallocate simply skip it. A file that one write
		// fills needs neither: its blocks are allocated together at writeback (and a
		// full drive fails that write), and for a small file the fallocate was a third
		// of the cost of creating it.
		if ferr := unix.Fallocate(int(f.Fd()), 0, 0, size); errors.Is(ferr, unix.ENOSPC) {
			return mapErr(ferr)
		}
	}
	var n int64
	if direct {
		n, err = copyDirect(ctx, f, r, size)
	} else {
		bp := copyBufs.Get().(*[]byte)
		n, err = copyFull(ctx, &writeback{f: f}, r, *bp, size)
		copyBufs.Put(bp)
	}
	if err != nil {
		return err
	}
	if size >= 0 && n < size {
		return fmt.Errorf("%w: %d of %d bytes", storage.ErrShortWrite, n, size)
	}
	if err := d.failpoint("create:sync"); err != nil {
		return err
	}
	switch how {
	case syncNone:
		return nil
	case syncWithCommit:
		// Only a start (the pages a direct write left: its tail): the wait is the commit's,
		// over all of the object's files and its metadata at once (waitStagedData), so
		// that a put waits for the device once per drive before its journal commit rather
		// than once here and once more for the metadata. A file system that refuses the
		// start still gets the commit's wait.
		unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		return nil
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return mapErr(&os.PathError{Op: "fdatasync", Path: full, Err: err})
	}
	return nil
}

// writeback writes to a file and starts the disk write of every full buffer at once, so that
// a large file reaches the disk while the rest of it is still being produced (encoded,
// received) rather than all at the final fdatasync, which still makes it durable.
type writeback struct {
	f   *os.File
	off int64 // bytes written so far
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if n == copyBufSize {
		// Only a start: SYNC_FILE_RANGE_WRITE queues the pages without waiting for them (it
		// blocks only while the device's queue is full, which paces a writer faster than
		// the disk). A file system that cannot do it still gets the fdatasync.
		unix.SyncFileRange(int(w.f.Fd()), w.off, int64(n), unix.SYNC_FILE_RANGE_WRITE)
	}
	w.off += int64(n)
	return n, err
}

// copyFull copies r to w through buf until io.EOF, refusing more than limit bytes when limit
// >= 0, and stopping when ctx is done. Any error from r other than io.EOF, even
// io.ErrUnexpectedEOF, is an error: a reader reports a bad body that way.
func copyFull(ctx context.Context, w io.Writer, r io.Reader, buf []byte, limit int64) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := fill(r, buf)
		if m > 0 {
			if limit >= 0 && n+int64(m) > limit {
				return n, fmt.Errorf("%w: more than %d bytes", storage.ErrLongWrite, limit)
			}
			if _, err := w.Write(buf[:m]); err != nil {
				return n, mapErr(err)
			}
			n += int64(m)
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("reading the data: %w", rerr)
		}
	}
}

// fill reads from r until buf is full or r returns an error (io.EOF included).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// file is an open file of the drive.
type file struct {
	*os.File
	size int64
}

func (f *file) Size() int64 { return f.size }

var _ storage.BlockReaderAt = (*file)(nil)

// ReadBlockAt reads sum and data with one preadv (more only if the kernel returns less).
func (f *file) ReadBlockAt(sum, data []byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	iov := [2][]byte{sum, data}
	total := len(sum) + len(data)
	n := 0
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		for n < total {
			bufs := iov[:]
			if n < len(sum) {
				bufs[0] = sum[n:]
			} else {
				bufs = iov[1:]
				bufs[0] = data[n-len(sum):]
			}
			m, err := unix.Preadv(int(fd), bufs, off+int64(n))
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				rerr = &os.PathError{Op: "preadv", Path: f.Name(), Err: err}
				return true
			case m == 0:
				rerr = io.EOF
				return true
			}
			n += m
		}
		return true
	})
	if rerr == nil {
		rerr = cerr
	}
	return n, rerr
}

// OpenFile opens a file for reading.
func (d *Drive) OpenFile(ctx context.Context, volume, p string) (storage.File, error) {
	full, err := d.treePath(volume, p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, mapErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, mapErr(err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a directory", storage.ErrFileNotFound, p)
	}
	return &file{File: f, size: fi.Size()}, nil
}

// ReadFile returns a whole file.
func (d *Drive) ReadFile(ctx context.Context, volume, p string) ([]byte, error) {
	full, err := d.treePath(volume, p)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, mapErr(err)
	}
	return b, nil
}

// WriteFile replaces a file atomically: it is written and synced in the staging area, then
// renamed into place. A journal record on a drive with a redo log (loggedSysPath) is a
// record in the log instead, then the same write and rename without syncs.
func (d *Drive) WriteFile(ctx context.Context, volume, p string, data []byte) error {
	// Only a logged write syncs in a commit batch (the journal's); any other leaves it.
	seat := d.seat(ctx)
	defer seat.leave()
	full, err := d.treePath(volume, p)
	if err != nil {
		return err
	}
	if rel, ok := d.loggedSysPath(volume, p); ok {
		err := d.redo.log(redoEntry{path: rel, data: data}, seat, func(redoAt) error {
			if err := d.failpoint("write:logged"); err != nil {
				return err
			}
			return d.writeUnsynced(full, data)
		})
		if !errors.Is(err, errRedoTooLarge) {
			if err != nil {
				return fmt.Errorf("write %s/%s on %s: %w", volume, p, d.root, err)
			}
			return nil
		}
	}
	if err := d.settle(volume, p, false); err != nil {
		return err
	}
	if err := d.replaceFile(ctx, full, data); err != nil {
		return fmt.Errorf("write %s/%s on %s: %w", volume, p, d.root, err)
	}
	return nil
}

// writeUnsynced writes data to a staged file and renames it over full, creating full's
// parents, without any sync: for a file whose durability is a redo log record's.
func (d *Drive) writeUnsynced(full string, data []byte) error {
	tmp := d.tmpPath()
	fd, err := d.writeStaged(tmp, data)
	if err != nil {
		return err
	}
	if err := unix.Close(fd); err != nil {
		os.Remove(tmp)
		return mapErr(&os.PathError{Op: "close", Path: tmp, Err: err})
	}
	if unix.Rename(tmp, full) == nil {
		return nil // the directory was there: the usual case
	}
	if err := renameInto(d.root, tmp, full, false); err != nil {
		os.Remove(tmp)
		return mapErr(err)
	}
	return nil
}

// replaceFile writes data to a staged file and renames it over full, durably.
func (d *Drive) replaceFile(ctx context.Context, full string, data []byte) error {
	tmp := d.tmpPath()
	if err := d.writeNew(ctx, tmp, int64(len(data)), bytes.NewReader(data), syncNow); err != nil {
		return err
	}
	if err := renameDurable(d.root, tmp, full, true); err != nil {
		os.Remove(tmp)
		return mapErr(err)
	}
	return nil
}

// RenameFile moves a file or directory durably.
func (d *Drive) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	src, err := d.treePath(srcVolume, srcPath)
	if err != nil {
		return err
	}
	dst, err := d.treePath(dstVolume, dstPath)
	if err != nil {
		return err
	}
	if srcPath == "" || dstPath == "" {
		return fmt.Errorf("%w: cannot rename a volume", storage.ErrInvalidPath)
	}
	if err := d.settle(srcVolume, srcPath, true); err != nil {
		return err
	}
	if err := d.settle(dstVolume, dstPath, true); err != nil {
		return err
	}
	if err := renameDurable(d.root, src, dst, d.isStaging(src)); err != nil {
		return fmt.Errorf("rename %s/%s to %s/%s on %s: %w", srcVolume, srcPath, dstVolume, dstPath, d.root, mapErr(err))
	}
	return nil
}

// Delete removes a file, or a directory tree when recursive, then the emptied parents. A
// journal record on a drive with a redo log (loggedSysPath) is removed through the log
// (deleteLogged).
func (d *Drive) Delete(ctx context.Context, volume, p string, recursive bool) error {
	// Only a logged removal syncs in a commit batch (the journal's); any other leaves it.
	seat := d.seat(ctx)
	defer seat.leave()
	full, err := d.treePath(volume, p)
	if err != nil {
		return err
	}
	if p == "" {
		return fmt.Errorf("%w: cannot delete a volume with Delete", storage.ErrInvalidPath)
	}
	vp, _ := d.volumePath(volume)
	if rel, ok := d.loggedSysPath(volume, p); ok && !recursive {
		if err := d.deleteLogged(rel, full, vp, seat); err != nil {
			return fmt.Errorf("delete %s/%s on %s: %w", volume, p, d.root, err)
		}
		return nil
	}
	if err := d.settle(volume, p, recursive); err != nil {
		return err
	}
	if recursive {
		err = d.removeTree(full)
	} else {
		err = os.Remove(full)
	}
	if err != nil {
		return fmt.Errorf("delete %s/%s on %s: %w", volume, p, d.root, mapErr(err))
	}
	removeEmptyParents(filepath.Dir(full), vp)
	return nil
}

// deleteLogged removes the file full (rel from the drive's root) of the volume at vp with
// a removal record in the redo log, then from the tree without syncs: durable, where the
// plain Delete's unlink is not, so that a crash never brings a removed journal record
// back. seat is the drive's place in the removal's commit batch.
func (d *Drive) deleteLogged(rel, full, vp string, seat *batchSeat) error {
	_, lerr := os.Lstat(full)
	if lerr != nil && !d.redo.holds(rel) {
		return mapErr(lerr) // a missing file costs no record
	}
	// A missing file the generation holds a record of is removed through the log all the
	// same (its tree's removal then finds nothing: ErrFileNotFound): a put of it whose
	// tree write failed would otherwise come back with the redo.
	return d.redo.log(redoEntry{rm: rel}, seat, func(redoAt) error {
		if err := os.Remove(full); err != nil {
			return mapErr(err)
		}
		removeEmptyParents(filepath.Dir(full), vp)
		return nil
	})
}

// removeTree makes the tree at full disappear at once, by renaming it into the trash, then
// removes it. A crash in between leaves it in the trash, which Open clears.
func (d *Drive) removeTree(full string) error {
	if _, err := os.Lstat(full); err != nil {
		return err
	}
	trash := d.root + "/" + storage.SysVolume + "/" + trashDir + "/" + newID()
	if err := os.Rename(full, trash); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// ListDir returns the names in a directory, directories with a trailing "/".
func (d *Drive) ListDir(ctx context.Context, volume, dir string) ([]string, error) {
	full, err := d.treePath(volume, dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(full)
	if err != nil {
		return nil, mapErr(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
		if e.IsDir() {
			names[i] += "/"
		}
	}
	return names, nil
}
