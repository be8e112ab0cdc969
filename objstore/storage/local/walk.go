package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
	"golang.org/x/sys/unix"
)

// Walk reports a bucket's objects in ascending key order. Within one directory it reads all
// names, turns each into the key (or, for a subdirectory, the key prefix ending in "/") it
// stands for, sorts them and visits them in order: since every key below a subdirectory
// starts with that prefix, and the prefix sorts before all of them, visiting subdirectories
// at the place of their prefix yields the whole tree in key order.
func (d *Drive) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	vp, err := d.volumePath(bucket)
	if err != nil {
		return err
	}
	if bucket == storage.SysVolume {
		return fmt.Errorf("%w: cannot walk the system volume", storage.ErrInvalidPath)
	}
	if _, err := os.Stat(vp); err != nil {
		return d.objectErr(bucket, err)
	}
	dirKey, namePrefix := "", opts.Prefix
	if i := strings.LastIndexByte(opts.Prefix, '/'); i >= 0 {
		dirKey, namePrefix = opts.Prefix[:i+1], opts.Prefix[i+1:]
	}
	dirPath := vp
	if dirKey != "" {
		if layout.CheckKey(dirKey) != nil {
			return nil // no key can have this prefix
		}
		dirPath += "/" + layout.EncodePrefix(dirKey[:len(dirKey)-1])
	}
	if d.redo != nil {
		// The walk reads the tree's directories: the backlog's files under it go there first.
		if err := d.redo.writeUnder(d.relPath(dirPath)); err != nil {
			return fmt.Errorf("walk %s on %s: %w", bucket, d.root, err)
		}
	}
	w := walker{d: d, ctx: ctx, opts: opts, fn: fn}
	if err := w.dir(dirPath, dirKey, namePrefix, dirKey == ""); err != nil {
		return fmt.Errorf("walk %s on %s: %w", bucket, d.root, err)
	}
	return nil
}

type walker struct {
	d    *Drive
	ctx  context.Context
	opts storage.WalkOptions
	fn   func(storage.Entry) error
	buf  []byte // reused to read metadata headers
}

// dir visits the directory path, whose keys start with keyPrefix, keeping the names whose
// segment starts with namePrefix. top is true for the bucket's own directory, where the
// internal names live.
func (w *walker) dir(path, keyPrefix, namePrefix string, top bool) error {
	all, err := w.d.dirItems(path, keyPrefix, top)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil
		}
		return mapErr(err)
	}
	items := w.window(all, keyPrefix+namePrefix)

	after := w.opts.StartAfter
	for _, it := range items {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		child := path + "/" + it.name
		if !it.isDir {
			if it.key <= after {
				continue
			}
			e := storage.Entry{Key: it.key}
			if w.opts.WithMeta {
				e.Meta, e.MetaErr = w.readHeader(child)
			}
			if err := w.fn(e); err != nil {
				return err
			}
			continue
		}
		if after > it.key && !strings.HasPrefix(after, it.key) {
			continue // every key below sorts before StartAfter
		}
		if w.opts.Recursive {
			if err := w.dir(child, it.key, "", false); err != nil {
				return err
			}
			continue
		}
		if it.key <= after {
			continue
		}
		has, err := hasObjects(child, maxDepth)
		if err != nil {
			return mapErr(err)
		}
		if has {
			if err := w.fn(storage.Entry{Key: it.key, IsPrefix: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// window returns the part of a directory's sorted items a walk needs: the keys starting
// with prefix (contiguous, since they share it) from the first one after StartAfter, or
// from the subdirectory that holds StartAfter. Found by binary search, so that a page of a
// listing deep into a large directory does not step over the whole directory.
func (w *walker) window(items []walkItem, prefix string) []walkItem {
	lo, _ := slices.BinarySearchFunc(items, prefix, func(it walkItem, p string) int { return strings.Compare(it.key, p) })
	if after := w.opts.StartAfter; after != "" {
		i, found := slices.BinarySearchFunc(items, after, func(it walkItem, a string) int { return strings.Compare(it.key, a) })
		if found {
			i++
		}
		// Only the subdirectory whose key is a prefix of StartAfter can sit just before the
		// first key after it and still hold keys that follow it.
		if i > 0 && items[i-1].isDir && strings.HasPrefix(after, items[i-1].key) {
			i--
		}
		lo = max(lo, i)
	}
	hi := lo
	for hi < len(items) && strings.HasPrefix(items[hi].key, prefix) {
		hi++
	}
	return items[lo:hi]
}

// headerProbe is how much of a metadata file is read first: enough for the header of
// almost every object, so that one read is all a listing costs.
const headerProbe = 4096

// readHeader returns the header of the metadata file at path, without its inline data. It
// uses the system calls directly: os.Open would also make the descriptor non-blocking and
// register it with the runtime's poller, which costs more than the read itself here.
func (w *walker) readHeader(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, mapErr(&fs.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	if cap(w.buf) < headerProbe {
		w.buf = make([]byte, headerProbe)
	}
	buf := w.buf[:headerProbe]
	n, err := preadFull(fd, buf, 0)
	if err != nil {
		return nil, mapErr(&fs.PathError{Op: "read", Path: path, Err: err})
	}
	want := meta.HeaderLength(buf[:n])
	if want == 0 || want <= n {
		if want > 0 {
			n = want
		}
		return slices.Clone(buf[:n]), nil
	}
	out := make([]byte, want)
	copy(out, buf[:n])
	if m, err := preadFull(fd, out[n:], int64(n)); err != nil || n+m < want {
		return nil, fmt.Errorf("%w: %s: metadata header cut short", storage.ErrFileCorrupt, path)
	}
	return out, nil
}

// preadFull reads into buf at off until it is full or the file ends.
func preadFull(fd int, buf []byte, off int64) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Pread(fd, buf[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
