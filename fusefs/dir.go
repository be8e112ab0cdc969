package fusefs

import (
	"bytes"
	"context"
	"errors"
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

	// prefix is the directory's key prefix: "" for the bucket, else ending in "/". A rename
	// of the directory or of an ancestor changes it; it is read without a lock (the
	// change feed's goroutine reads it), so it is an atomic pointer.
	prefix atomic.Pointer[string]

	mu sync.Mutex
	// loaded, attrGen, explicit, attrs, meta and markerSize cache the marker.
	// GUARDED_BY(mu). INVARIANT: explicit implies meta is the marker's metadata and
	// markerSize its size (an S3 client may give a marker content; the mount never does).
	loaded     bool
	attrGen    uint64
	explicit   bool
	attrs      attrs
	meta       map[string]string
	markerSize int64
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
	// touched is when the mount last created, removed or renamed an entry in or out of the
	// directory: its mtime and ctime show it while it is later than the stored ones, as a
	// local file system moves them. Kept in memory only: storing it in the marker would
	// add a durable write to every file creation (tar, rsync and cp make thousands), and
	// an implicit directory has no marker. An explicit change of the times (utimens)
	// replaces it. GUARDED_BY(mu).
	touched time.Time
	// changed is when a setattr that changed nothing stored (tar's chown of every directory
	// to the owner it has) last moved the ctime, as ext4 does. Kept in memory like touched
	// and stored with the next attribute change: a commit for it would be a fourth durable
	// write for every directory tar makes (mkdir, utimens, chown, chmod). GUARDED_BY(mu).
	changed time.Time
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
	d := &dirNode{fsys: f, bucket: bucket}
	d.prefix.Store(&prefix)
	return d
}

// loc returns the directory's key prefix.
func (d *dirNode) loc() string { return *d.prefix.Load() }

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
		d.meta, d.markerSize = info.Metadata, info.Size
		return
	}
	t := d.fsys.started
	d.attrs = attrs{mode: defaultDirMode, uid: d.fsys.def.uid, gid: d.fsys.def.gid, mtime: t, atime: t, ctime: t}
	d.meta, d.markerSize = nil, 0
}

// loadAttrs returns the directory's attributes, reading its marker if the cache is stale.
func (d *dirNode) loadAttrs() (attrs, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prefix := d.loc()
	if prefix == "" || (d.loaded && d.attrGen == d.gen.Load()) {
		return d.attrs, 0
	}
	gen := d.gen.Load()
	info, err := d.fsys.layer.StatObject(d.fsys.ctx, d.bucket, prefix)
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
	d.withTouched(&a).fill(&out.Attr, 1)
	return 0
}

// withTouched returns a with the time of the latest entry change as mtime and ctime where
// it is later.
func (d *dirNode) withTouched(a *attrs) *attrs {
	d.mu.Lock()
	t, c := d.touched, d.changed
	d.mu.Unlock()
	if t.After(a.mtime) {
		a.mtime = t
	}
	if t.After(a.ctime) {
		a.ctime = t
	}
	if c.After(a.ctime) {
		a.ctime = c
	}
	return a
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
	if _, ok := in.GetMTime(); !ok {
		// The mtime an entry change gave it is kept (and stored now, with the change).
		d.withTouched(&a)
	}
	before := a
	now := time.Now()
	mtimeSet, atimeSet := applySetattr(&a, in, now)
	if !mtimeSet && !atimeSet && a.mode == before.mode && a.uid == before.uid && a.gid == before.gid {
		// Nothing stored changes: only the ctime moves, in memory (see changed).
		d.mu.Lock()
		d.changed = now
		d.mu.Unlock()
		d.withTouched(&before).fill(&out.Attr, 1)
		return 0
	}
	if errno := d.saveMarker(func(md map[string]string) { putPosix(md, a, true) }, a); errno != 0 {
		return errno
	}
	d.mu.Lock()
	d.touched, d.changed = time.Time{}, time.Time{}
	d.mu.Unlock()
	a.fill(&out.Attr, 1)
	return 0
}

// saveMarker changes the marker's metadata with edit (creating the marker if needed) and
// caches a as the directory's attributes.
func (d *dirNode) saveMarker(edit func(map[string]string), a attrs) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	prefix := d.loc()
	if prefix == "" {
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
	if b := d.fsys.behind; b != nil && d.markerSize == 0 {
		// Write-behind (fsync mode): the marker is an empty object whose metadata is the
		// directory's attributes, so the new attributes are a put of it with md whole, taken
		// like a small file's close (a marker that S3 gave content keeps it: updated
		// below). tar sets every directory's times and mode at its end, two changes in a
		// row per directory: they no longer wait one by one for their commits, which run 4
		// at a time in the background.
		info, taken, err := b.PutBehind(ctx, d.bucket, prefix, []byte{}, objstore.PutOptions{Metadata: md})
		if err != nil {
			return toErrno(err)
		}
		if taken {
			d.setMarkerLocked(&info, gen)
			return 0
		}
	}
	var info objstore.ObjectInfo
	var err error
	if d.explicit {
		patch := objstore.MetadataPatch{Set: md}
		for k := range d.meta {
			if _, keep := md[k]; !keep {
				patch.Delete = append(patch.Delete, k)
			}
		}
		info, err = d.fsys.layer.UpdateObjectMetadata(ctx, d.bucket, prefix, patch)
	}
	if !d.explicit || errors.Is(err, objstore.ErrObjectNotFound) {
		info, err = d.fsys.layer.PutObject(ctx, d.bucket, prefix, bytes.NewReader(nil), 0, objstore.PutOptions{Metadata: md})
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
	if len(key) > maxKeyLength || len(name) > maxNameLength {
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
	id, names, linked := groupOf(h.info.Metadata, key)
	if linked {
		// Another name of a file the mount knows: the same node, so the same inode.
		if n := d.fsys.groups.get(id); n != nil && n.addName(key) {
			n.getattr(&out.Attr)
			return n.EmbeddedInode(), 0
		}
	}
	f := newFileNode(d.fsys, d.bucket, key, h.info)
	if linked {
		if n := f.joinLinks(id, names); n != f && n.addName(key) {
			n.getattr(&out.Attr)
			return n.EmbeddedInode(), 0
		}
	}
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
		// The times kept in memory count here too: the kernel looks a directory up again
		// after its chmod (it drops the entry to recheck access).
		child.withTouched(&a).fill(&out.Attr, 1)
	}
	if ino := child.EmbeddedInode(); ino.StableAttr().Ino != 0 {
		return ino
	}
	return d.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR})
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return newDirStream(d), 0
}
