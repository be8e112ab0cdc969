package fusefs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirNode is a directory: a bucket's top (prefix "") or a key prefix ending in "/". It is
// explicit when a marker object (its prefix as a key) exists, which also stores its mode,
// owner and times; implicit when only keys below it make it exist.
type dirNode struct {
	fs.Inode
	fsys   *fsys
	bucket string
	// gen counts changes made by others to the directory's marker; the cached attributes
	// are current while attrGen == gen.
	gen atomic.Uint64
	// childGen counts changes made by others to the directory's entries; listing hints are
	// usable while hintGen == childGen.
	childGen atomic.Uint64

	mu sync.Mutex
	// prefix is the directory's key prefix: "" for the bucket, else ending in "/".
	// GUARDED_BY(mu); a rename of the directory or of an ancestor changes it.
	prefix string
	// loaded, attrGen, explicit, attrs and meta cache the marker. GUARDED_BY(mu).
	// INVARIANT: explicit implies meta is the marker's metadata.
	loaded   bool
	attrGen  uint64
	explicit bool
	attrs    attrs
	meta     map[string]string
	// hints hold what the latest listing page learned of its entries, so that the lookups
	// readdirplus makes for every entry need no core call. A hint is used once.
	// GUARDED_BY(mu).
	hints   map[string]hint
	hintGen uint64
	// complete tells that the mount knows every entry of the directory: it made the
	// directory, and every change below it since went through the mount or came on the
	// change feed. names then holds the entries' names, and a lookup of any other name is
	// ENOENT without asking the core (a file about to be created is looked up first: in a
	// directory being filled, that is most lookups). Valid while completeGen == childGen.
	// GUARDED_BY(mu).
	complete    bool
	completeGen uint64
	names       map[string]struct{}
}

// maxCompleteNames bounds the names a complete directory keeps; past it, lookups ask the
// core again.
const maxCompleteNames = 100_000

// markComplete records that the directory was just made, empty, by the mount.
func (d *dirNode) markComplete() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.complete, d.completeGen, d.names = true, d.childGen.Load(), map[string]struct{}{}
}

// knownAbsent reports whether the mount knows that name is not in the directory.
func (d *dirNode) knownAbsent(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.complete {
		return false
	}
	if d.completeGen != d.childGen.Load() {
		d.complete, d.names = false, nil // someone else changed the directory
		return false
	}
	_, ok := d.names[name]
	return !ok
}

// forgetComplete stops answering lookups from the directory's names.
func (d *dirNode) forgetComplete() {
	d.mu.Lock()
	d.complete, d.names = false, nil
	d.mu.Unlock()
}

// noteName records that the mount made name exist (or not) in the directory, and forgets
// the listing's hint for it.
func (d *dirNode) noteName(name string, present bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.hints, name)
	if !d.complete {
		return
	}
	if !present {
		delete(d.names, name)
		return
	}
	d.names[name] = struct{}{}
	if len(d.names) > maxCompleteNames {
		d.complete, d.names = false, nil
	}
}

// hint is what a listing or a lookup tells of one entry.
type hint struct {
	isDir bool
	// info describes the object of a file.
	info objstore.ObjectInfo
	// known tells, for a directory, that the lookup read its marker: marker is its
	// information, or nil for an implicit directory.
	known  bool
	marker *objstore.ObjectInfo
}

var (
	_ fs.NodeLookuper      = (*dirNode)(nil)
	_ fs.NodeReaddirer     = (*dirNode)(nil)
	_ fs.NodeGetattrer     = (*dirNode)(nil)
	_ fs.NodeSetattrer     = (*dirNode)(nil)
	_ fs.NodeMkdirer       = (*dirNode)(nil)
	_ fs.NodeRmdirer       = (*dirNode)(nil)
	_ fs.NodeCreater       = (*dirNode)(nil)
	_ fs.NodeUnlinker      = (*dirNode)(nil)
	_ fs.NodeSymlinker     = (*dirNode)(nil)
	_ fs.NodeLinker        = (*dirNode)(nil)
	_ fs.NodeMknoder       = (*dirNode)(nil)
	_ fs.NodeRenamer       = (*dirNode)(nil)
	_ fs.NodeStatfser      = (*dirNode)(nil)
	_ fs.NodeFsyncer       = (*dirNode)(nil)
	_ fs.NodeGetxattrer    = (*dirNode)(nil)
	_ fs.NodeSetxattrer    = (*dirNode)(nil)
	_ fs.NodeRemovexattrer = (*dirNode)(nil)
	_ fs.NodeListxattrer   = (*dirNode)(nil)
)

func newDirNode(f *fsys, bucket, prefix string) *dirNode {
	return &dirNode{fsys: f, bucket: bucket, prefix: prefix}
}

// loc returns the directory's key prefix.
func (d *dirNode) loc() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prefix
}

// bucketAttrs fills the attributes of a bucket's top directory, which has no marker: the
// bucket's creation time, unless set since through this mount (kept in memory only).
func (d *dirNode) bucketAttrs(info objstore.BucketInfo, out *fuse.Attr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		d.attrs = attrs{mode: defaultDirMode, uid: d.fsys.def.uid, gid: d.fsys.def.gid,
			mtime: info.Created, atime: info.Created, ctime: info.Created}
		d.loaded = true
	}
	d.attrs.fill(out, 1)
}

// setMarker caches what the marker lookup found: info of an explicit directory, or nil.
func (d *dirNode) setMarker(info *objstore.ObjectInfo, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setMarkerLocked(info, gen)
}

func (d *dirNode) setMarkerLocked(info *objstore.ObjectInfo, gen uint64) {
	d.loaded, d.attrGen = true, gen
	d.explicit = info != nil
	if info != nil {
		d.attrs = attrsFromInfo(*info, true, d.fsys.def)
		d.meta = info.Metadata
		return
	}
	t := d.fsys.started
	d.attrs = attrs{mode: defaultDirMode, uid: d.fsys.def.uid, gid: d.fsys.def.gid, mtime: t, atime: t, ctime: t}
	d.meta = nil
}

// loadAttrs returns the directory's attributes, reading its marker if the cache is stale.
func (d *dirNode) loadAttrs() (attrs, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prefix == "" || (d.loaded && d.attrGen == d.gen.Load()) {
		return d.attrs, 0
	}
	gen := d.gen.Load()
	info, err := d.fsys.layer.StatObject(d.fsys.ctx, d.bucket, d.prefix)
	switch {
	case err == nil:
		d.setMarkerLocked(&info, gen)
	case errors.Is(err, objstore.ErrObjectNotFound):
		d.setMarkerLocked(nil, gen)
	default:
		return attrs{}, toErrno(err)
	}
	return d.attrs, 0
}

func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a, errno := d.loadAttrs()
	if errno != 0 {
		return errno
	}
	a.fill(&out.Attr, 1)
	return 0
}

// Setattr changes mode, owner or times. They persist in the marker, which is created if
// the directory was implicit. A bucket's top has no marker: its attributes are kept in
// memory for the life of the mount (so that rsync -a into a bucket works).
func (d *dirNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EISDIR
	}
	a, errno := d.loadAttrs()
	if errno != 0 {
		return errno
	}
	applySetattr(&a, in, time.Now())
	if errno := d.saveMarker(func(md map[string]string) { putPosix(md, a, true) }, a); errno != 0 {
		return errno
	}
	a.fill(&out.Attr, 1)
	return 0
}

// saveMarker changes the marker's metadata with edit (creating the marker if needed) and
// caches a as the directory's attributes.
func (d *dirNode) saveMarker(edit func(map[string]string), a attrs) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prefix == "" {
		d.attrs = a
		return 0
	}
	md := make(map[string]string, len(d.meta)+8)
	for k, v := range d.meta {
		md[k] = v
	}
	edit(md)
	ctx := d.fsys.ctx
	gen := d.gen.Load()
	var info objstore.ObjectInfo
	var err error
	if d.explicit {
		patch := objstore.MetadataPatch{Set: md}
		for k := range d.meta {
			if _, keep := md[k]; !keep {
				patch.Delete = append(patch.Delete, k)
			}
		}
		info, err = d.fsys.layer.UpdateObjectMetadata(ctx, d.bucket, d.prefix, patch)
	}
	if !d.explicit || errors.Is(err, objstore.ErrObjectNotFound) {
		info, err = d.fsys.layer.PutObject(ctx, d.bucket, d.prefix, bytes.NewReader(nil), 0, objstore.PutOptions{Metadata: md})
	}
	if err != nil {
		return toErrno(err)
	}
	d.setMarkerLocked(&info, gen)
	return 0
}

// Lookup finds a child. A directory wins over a file of the same name: with keys "a" and
// "a/b", "a" is the directory and the object "a" is not shown (SEMANTICS.md).
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	prefix := d.loc()
	key := prefix + name
	if len(key) > maxKeyLength {
		return nil, syscall.ENAMETOOLONG
	}
	if d.knownAbsent(name) {
		return nil, syscall.ENOENT
	}
	existing, _ := d.childFile(name)
	if existing != nil && existing.pendingCreate() {
		existing.getattr(&out.Attr)
		return existing.EmbeddedInode(), 0
	}
	h, ok := d.takeHint(name)
	if !ok {
		var errno syscall.Errno
		if h, errno = d.resolve(key); errno != 0 {
			return nil, errno
		}
	}
	if h.isDir {
		return d.dirChild(ctx, name, key+"/", h, out), 0
	}
	// The node the tree has for this name stays, if it still stands for this object: the
	// kernel looks names up again (rename targets always) and must find the inode its open
	// descriptors use.
	if existing != nil && existing.adopt(key, h.info) {
		existing.getattr(&out.Attr)
		return existing.EmbeddedInode(), 0
	}
	f := newFileNode(d.fsys, d.bucket, key, h.info)
	f.getattr(&out.Attr)
	return d.NewInode(ctx, f, fs.StableAttr{Mode: f.fileType()}), 0
}

// childFile returns the file node the tree has under name, if any.
func (d *dirNode) childFile(name string) (*fileNode, *fs.Inode) {
	ch := d.GetChild(name)
	if ch == nil {
		return nil, nil
	}
	f, _ := ch.Operations().(*fileNode)
	return f, ch
}

// resolve asks the core what key names: a directory (its marker, or keys below it) or an
// object.
func (d *dirNode) resolve(key string) (hint, syscall.Errno) {
	l, ctx := d.fsys.layer, d.fsys.ctx
	if len(key)+1 <= maxKeyLength {
		m, err := l.StatObject(ctx, d.bucket, key+"/")
		if err == nil {
			return hint{isDir: true, known: true, marker: &m}, 0
		}
		if !errors.Is(err, objstore.ErrObjectNotFound) {
			return hint{}, toErrno(err)
		}
		res, err := l.ListObjects(ctx, d.bucket, objstore.ListOptions{Prefix: key + "/", Delimiter: "/", MaxKeys: 1})
		if err != nil {
			return hint{}, toErrno(err)
		}
		if len(res.Objects)+len(res.Prefixes) > 0 {
			return hint{isDir: true, known: true}, 0
		}
	}
	info, err := l.StatObject(ctx, d.bucket, key)
	if err != nil {
		return hint{}, toErrno(err)
	}
	return hint{info: info}, 0
}

// dirChild returns the child directory at prefix, reusing the node the tree has for it so
// that a directory keeps its inode while anyone uses it.
func (d *dirNode) dirChild(ctx context.Context, name, prefix string, h hint, out *fuse.EntryOut) *fs.Inode {
	var child *dirNode
	if ch := d.GetChild(name); ch != nil {
		if cd, ok := ch.Operations().(*dirNode); ok {
			child = cd
		}
	}
	if child == nil {
		child = newDirNode(d.fsys, d.bucket, prefix)
	}
	if h.known {
		child.setMarker(h.marker, child.gen.Load())
	}
	if a, errno := child.loadAttrs(); errno == 0 {
		a.fill(&out.Attr, 1)
	}
	if ino := child.EmbeddedInode(); ino.StableAttr().Ino != 0 {
		return ino
	}
	return d.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR})
}

// setHints replaces the listing hints.
func (d *dirNode) setHints(h map[string]hint, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hints, d.hintGen = h, gen
}

// takeHint returns and forgets the listing's hint for name, if it is still current.
func (d *dirNode) takeHint(name string) (hint, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.hints[name]
	if !ok || d.hintGen != d.childGen.Load() {
		return hint{}, false
	}
	delete(d.hints, name)
	return h, true
}

// dropHint forgets the hint for name: this mount is changing that entry.
func (d *dirNode) dropHint(name string) {
	d.mu.Lock()
	delete(d.hints, name)
	d.mu.Unlock()
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return newDirStream(d), 0
}

// caller returns the uid and gid of the process making a request.
func caller(ctx context.Context, def owner) owner {
	if c, ok := fuse.FromContext(ctx); ok {
		return owner{uid: c.Uid, gid: c.Gid}
	}
	return def
}

// Mkdir creates an explicit directory: a marker object with the mode and owner.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	prefix := d.loc()
	marker := prefix + name + "/"
	if len(marker) > maxKeyLength {
		return nil, syscall.ENAMETOOLONG
	}
	d.dropHint(name)
	now := time.Now()
	who := caller(ctx, d.fsys.def)
	a := attrs{mode: syscall.S_IFDIR | mode&0o7777, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	md := map[string]string{}
	putPosix(md, a, true)
	info, err := d.fsys.layer.PutObject(d.fsys.ctx, d.bucket, marker, bytes.NewReader(nil), 0, objstore.PutOptions{
		Metadata:      md,
		Preconditions: objstore.Preconditions{IfNoneMatch: true},
	})
	if err != nil {
		return nil, toErrno(err)
	}
	child := newDirNode(d.fsys, d.bucket, marker)
	child.setMarker(&info, child.gen.Load())
	child.markComplete()
	child.attrs.fill(&out.Attr, 1)
	d.noteName(name, true)
	return d.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// Rmdir removes an empty directory: ENOTEMPTY if any key lies below it.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	marker := d.loc() + name + "/"
	d.dropHint(name)
	if ch := d.GetChild(name); ch != nil && hasPendingFiles(ch) {
		return syscall.ENOTEMPTY
	}
	res, err := d.fsys.layer.ListObjects(d.fsys.ctx, d.bucket, objstore.ListOptions{Prefix: marker, Delimiter: "/", MaxKeys: 2})
	if err != nil {
		return toErrno(err)
	}
	for _, o := range res.Objects {
		if o.Key != marker {
			return syscall.ENOTEMPTY
		}
	}
	if len(res.Prefixes) > 0 {
		return syscall.ENOTEMPTY
	}
	if len(res.Objects) == 0 {
		return syscall.ENOENT
	}
	err = d.fsys.layer.DeleteObject(d.fsys.ctx, d.bucket, marker)
	if err == nil || errors.Is(err, objstore.ErrObjectNotFound) {
		// (Removed meanwhile: the directory is gone all the same.)
		d.noteName(name, false)
		return 0
	}
	return toErrno(err)
}

// hasPendingFiles reports whether a directory's subtree holds a file created through the
// mount and not committed yet.
func hasPendingFiles(n *fs.Inode) bool {
	for _, ch := range n.Children() {
		switch op := ch.Operations().(type) {
		case *fileNode:
			if op.pendingCreate() {
				return true
			}
		case *dirNode:
			if hasPendingFiles(ch) {
				return true
			}
		}
	}
	return false
}

// Create makes a new, empty file. Nothing reaches the core before the first flush, fsync or
// close: a file written sequentially then streams there as it is written.
func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	key := d.loc() + name
	if len(key) > maxKeyLength {
		return nil, nil, 0, syscall.ENAMETOOLONG
	}
	d.noteName(name, true)
	f := newCreatedFile(d.fsys, d.bucket, key, mode, caller(ctx, d.fsys.def))
	f.getattr(&out.Attr)
	ino := d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG})
	h := f.open()
	return ino, h, fuse.FOPEN_KEEP_CACHE, 0
}

// Mknod makes regular files only (as mknod(2) with S_IFREG does): devices, fifos and
// sockets cannot be objects.
func (d *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	ino, h, _, errno := d.Create(ctx, name, syscall.O_WRONLY, mode, out)
	if errno != 0 {
		return nil, errno
	}
	fh := h.(*fileHandle)
	if errno := fh.Flush(ctx); errno != 0 {
		return nil, errno
	}
	fh.Release(ctx)
	return ino, 0
}

// Unlink removes a file or symlink. A file open through the mount stays readable and
// writable through its descriptors, and is never committed again.
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	key := d.loc() + name
	d.dropHint(name)
	var f *fileNode
	if ch := d.GetChild(name); ch != nil {
		f, _ = ch.Operations().(*fileNode)
	}
	pending := false
	if f != nil {
		var errno syscall.Errno
		if pending, errno = f.unlink(); errno != 0 {
			return errno
		}
	}
	err := d.fsys.layer.DeleteObject(d.fsys.ctx, d.bucket, key)
	if err == nil || errors.Is(err, objstore.ErrObjectNotFound) && pending {
		d.noteName(name, false)
		return 0
	}
	return toErrno(err)
}

// Symlink stores a symlink as s3fs does: an object whose content is the target, with
// S_IFLNK in its mode.
func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	key := d.loc() + name
	if len(key) > maxKeyLength {
		return nil, syscall.ENAMETOOLONG
	}
	d.dropHint(name)
	now := time.Now()
	who := caller(ctx, d.fsys.def)
	a := attrs{mode: syscall.S_IFLNK | 0o777, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	md := map[string]string{"content-type": "application/octet-stream"}
	putPosix(md, a, false)
	info, err := d.fsys.layer.PutObject(d.fsys.ctx, d.bucket, key, strings.NewReader(target), int64(len(target)), objstore.PutOptions{
		Metadata:      md,
		Preconditions: objstore.Preconditions{IfNoneMatch: true},
	})
	if err != nil {
		return nil, toErrno(err)
	}
	d.noteName(name, true)
	f := newFileNode(d.fsys, d.bucket, key, info)
	f.getattr(&out.Attr)
	return d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFLNK}), 0
}

// Link refuses: an object has one key, so there are no hard links (SEMANTICS.md).
func (d *dirNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(d.fsys, out)
	return 0
}

// Fsync of a directory has nothing to do: every namespace change is durable in the core
// before the call that made it returns.
func (d *dirNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
