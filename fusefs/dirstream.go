package fusefs

import (
	"context"
	"strings"
	"syscall"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Listing pages: a directory of any size is listed a page at a time, never held whole.
// The first page is small, so that the first entries come fast; pages then grow, because
// every page costs the core a read of the whole directory on every drive (the walk does
// not resume from a cursor), which makes small pages quadratic in the directory's size.
const (
	listPage    = 1000
	maxListPage = 16000
)

// dirStream lists a directory, a page of keys at a time. Entries come in key order, except
// that an object named like a subdirectory ("a" beside "a/...") is not listed (the
// directory wins, as in Lookup), which needs objects to wait until the listing passes the
// place where their subdirectory would sort. Files created through the mount and not
// committed yet are listed at the end.
type dirStream struct {
	d      *dirNode
	prefix string
	// marker is where the next page starts, page its size; done is set after the last
	// page.
	marker string
	page   int
	done   bool
	// ready are the entries to return; held are objects that a later subdirectory of the
	// same name may still hide.
	ready []fuse.DirEntry
	held  []objstore.ObjectInfo
	// pending are files created through the mount and not committed yet, by name.
	pending map[string]uint32
	// pos counts the entries returned (for Seekdir).
	pos   uint64
	errno syscall.Errno
}

var (
	_ fs.DirStream     = (*dirStream)(nil)
	_ fs.FileSeekdirer = (*dirStream)(nil)
)

func newDirStream(d *dirNode) *dirStream {
	s := &dirStream{d: d, prefix: d.loc(), page: listPage}
	for name, ch := range d.Children() {
		if f, ok := ch.Operations().(*fileNode); ok && f.pendingCreate() {
			if s.pending == nil {
				s.pending = make(map[string]uint32)
			}
			s.pending[name] = syscall.S_IFREG
		}
	}
	return s
}

func (s *dirStream) HasNext() bool {
	for len(s.ready) == 0 && !s.done && s.errno == 0 {
		s.fetch()
	}
	if len(s.ready) == 0 && s.done && len(s.pending) > 0 {
		for name, mode := range s.pending {
			s.ready = append(s.ready, fuse.DirEntry{Name: name, Mode: mode})
		}
		s.pending = nil
	}
	return len(s.ready) > 0 || s.errno != 0
}

func (s *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if s.errno != 0 {
		errno := s.errno
		s.errno = 0
		s.done = true
		return fuse.DirEntry{}, errno
	}
	e := s.ready[0]
	s.ready = s.ready[1:]
	s.pos++
	return e, 0
}

func (s *dirStream) Close() {}

// Seekdir restarts the listing and skips off entries: offsets are positions in the listing.
func (s *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	*s = *newDirStream(s.d)
	for s.pos < off && s.HasNext() {
		if _, errno := s.Next(); errno != 0 {
			return errno
		}
	}
	return 0
}

// fetch lists the next page.
func (s *dirStream) fetch() {
	d := s.d
	gen := d.childGen.Load()
	res, err := d.fsys.layer.ListObjects(d.fsys.ctx, d.bucket, objstore.ListOptions{
		Prefix: s.prefix, Delimiter: "/", Marker: s.marker, MaxKeys: s.page,
	})
	s.page = min(s.page*4, maxListPage)
	if err != nil {
		s.errno = toErrno(err)
		return
	}
	hints := make(map[string]hint, len(res.Objects)+len(res.Prefixes))
	objs, prefixes := res.Objects, res.Prefixes
	for len(objs) > 0 || len(prefixes) > 0 {
		if len(prefixes) == 0 || (len(objs) > 0 && objs[0].Key < prefixes[0]) {
			o := objs[0]
			objs = objs[1:]
			s.release(o.Key)
			if name, ok := s.entryName(o.Key); ok {
				s.held = append(s.held, o)
				hints[name] = hint{info: o}
			}
			continue
		}
		p := prefixes[0]
		prefixes = prefixes[1:]
		s.release(p)
		name, ok := s.entryName(strings.TrimSuffix(p, "/"))
		if !ok {
			continue
		}
		// The directory hides a held object of its name.
		for i, o := range s.held {
			if o.Key == p[:len(p)-1] {
				s.held = append(s.held[:i], s.held[i+1:]...)
				break
			}
		}
		s.emit(name, syscall.S_IFDIR)
		hints[name] = hint{isDir: true}
	}
	s.marker = res.NextMarker
	if !res.IsTruncated {
		s.done = true
		s.release("\xff")
	}
	d.setHints(hints, gen)
}

// release emits the held objects that no subdirectory can hide any more: those whose
// subdirectory would sort before key.
func (s *dirStream) release(key string) {
	i := 0
	for ; i < len(s.held) && s.held[i].Key+"/" < key; i++ {
		o := s.held[i]
		name, _ := s.entryName(o.Key)
		s.emit(name, attrsFromInfo(o, false, owner{}).mode&syscall.S_IFMT)
	}
	s.held = s.held[i:]
}

// entryName returns the name under which key shows in this directory: the directory's own
// marker, and keys whose name is no valid file name ("", ".", ".." from keys like "a//b")
// do not show.
func (s *dirStream) entryName(key string) (string, bool) {
	name := key[len(s.prefix):]
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || len(name) > 255 {
		return "", false
	}
	return name, true
}

func (s *dirStream) emit(name string, mode uint32) {
	delete(s.pending, name)
	s.ready = append(s.ready, fuse.DirEntry{Name: name, Mode: mode})
}
