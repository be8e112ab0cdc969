package fusefs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The namespace changes of a directory: mkdir, rmdir, create, mknod, unlink, symlink, link
// (rename is in rename.go).

// caller returns the uid and gid of the process making a request.
func caller(ctx context.Context, def owner) owner {
	if c, ok := fuse.FromContext(ctx); ok {
		return owner{uid: c.Uid, gid: c.Gid}
	}
	return def
}

// newOwner returns the owner of an entry the caller creates in d: the caller, but with d's
// group when d has the set-group-id bit, as on ext4 (so that a shared directory's files
// stay in its group). sgid tells that d has the bit, which a new subdirectory takes too.
// (ext4 also drops a set-group-id bit that a caller outside that group asks for on a new
// file; FUSE does not tell the caller's groups, so the bit is kept.)
func (d *dirNode) newOwner(ctx context.Context) (who owner, sgid bool) {
	who = caller(ctx, d.fsys.def)
	if a, errno := d.loadAttrs(); errno == 0 && a.mode&syscall.S_ISGID != 0 {
		who.gid = a.gid
		return who, true
	}
	return who, false
}

// Mkdir creates an explicit directory: a marker object with the mode and owner.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	prefix := d.loc()
	marker := prefix + name + "/"
	if len(marker) > maxKeyLength || len(name) > maxNameLength {
		return nil, syscall.ENAMETOOLONG
	}
	d.dropHint(name)
	now := time.Now()
	who, sgid := d.newOwner(ctx)
	if sgid {
		mode |= syscall.S_ISGID
	}
	a := attrs{mode: syscall.S_IFDIR | mode&0o7777, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	md := map[string]string{}
	putPosix(md, a, true)
	opts := objstore.PutOptions{Metadata: md, Preconditions: objstore.Preconditions{IfNoneMatch: true}}
	var info objstore.ObjectInfo
	taken := false
	var err error
	if b := d.fsys.behind; b != nil {
		// Write-behind (fsync mode): the marker is committed in the background, like a
		// small file's close. The name's absence was checked by the lookup the kernel made
		// before this mkdir (it holds the directory's lock from that lookup on, so no
		// other mkdir or create of the mount comes between); the commit's create-if-absent
		// only settles a race with an S3 writer, whose object then stays (SEMANTICS.md).
		info, taken, err = b.PutBehind(d.fsys.ctx, d.bucket, marker, []byte{}, opts)
	}
	if !taken && err == nil {
		info, err = d.fsys.layer.PutObject(d.fsys.ctx, d.bucket, marker, bytes.NewReader(nil), 0, opts)
	}
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
	if len(key) > maxKeyLength || len(name) > maxNameLength {
		return nil, nil, 0, syscall.ENAMETOOLONG
	}
	d.noteName(name, true)
	who, _ := d.newOwner(ctx)
	f := newCreatedFile(d.fsys, d.bucket, key, mode, who)
	f.getattr(&out.Attr)
	ino := d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG})
	h := f.open()
	return ino, h, fuse.FOPEN_KEEP_CACHE, 0
}

// Mknod makes a regular file (an empty object, as creat and close) or a special file:
// a fifo, a unix socket (bind(2) makes one) or a character or block device, stored as an
// empty object whose mode (type bits included) and device number tell what it is, as s3fs
// stores them. The kernel refuses devices to callers without CAP_MKNOD before asking, as
// on any file system. Only root's mount can open devices (Options.Devices).
func (d *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	switch mode & syscall.S_IFMT {
	case 0, syscall.S_IFREG:
		return d.mknodRegular(ctx, name, mode, out)
	case syscall.S_IFIFO, syscall.S_IFSOCK:
		dev = 0
	case syscall.S_IFCHR, syscall.S_IFBLK:
	default:
		return nil, syscall.EINVAL // as mknod(2) for a type that is no file's
	}
	who, _ := d.newOwner(ctx)
	now := time.Now()
	a := attrs{mode: mode & (syscall.S_IFMT | 0o7777), rdev: dev, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	return d.putNode(ctx, name, a, "", out)
}

// mknodRegular makes an empty regular file, committed at once.
func (d *dirNode) mknodRegular(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
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

// putNode stores a symlink or special file made through the mount: one put of body (a
// symlink's target; empty otherwise) with a's attributes, refused if the name exists.
func (d *dirNode) putNode(ctx context.Context, name string, a attrs, body string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	key := d.loc() + name
	if len(key) > maxKeyLength || len(name) > maxNameLength {
		return nil, syscall.ENAMETOOLONG
	}
	d.dropHint(name)
	md := map[string]string{"content-type": "application/octet-stream"}
	// A symlink stores no times, as before special files shared this: its object's time is
	// its mtime, and s3fs reads it the same way.
	putPosix(md, a, a.mode&syscall.S_IFMT != syscall.S_IFLNK)
	info, err := d.fsys.layer.PutObject(d.fsys.ctx, d.bucket, key, strings.NewReader(body), int64(len(body)), objstore.PutOptions{
		Metadata:      md,
		Preconditions: objstore.Preconditions{IfNoneMatch: true},
	})
	if err != nil {
		return nil, toErrno(err)
	}
	d.noteName(name, true)
	f := newFileNode(d.fsys, d.bucket, key, info)
	f.getattr(&out.Attr)
	return d.NewInode(ctx, f, fs.StableAttr{Mode: a.mode & syscall.S_IFMT}), 0
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
	remove := func(pending bool) syscall.Errno {
		err := d.fsys.layer.DeleteObject(d.fsys.ctx, d.bucket, key)
		if err == nil || errors.Is(err, objstore.ErrObjectNotFound) && pending {
			return 0
		}
		return toErrno(err)
	}
	var errno syscall.Errno
	switch {
	case f == nil:
		errno = remove(false)
	default:
		if done, errno := f.unlinkName(key); done {
			if errno == 0 {
				d.noteName(name, false)
			}
			return errno
		}
		errno = f.unlink(remove)
	}
	if errno == 0 {
		d.noteName(name, false)
	}
	return errno
}

// Symlink stores a symlink as s3fs does: an object whose content is the target, with
// S_IFLNK in its mode.
func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	now := time.Now()
	who, _ := d.newOwner(ctx)
	a := attrs{mode: syscall.S_IFLNK | 0o777, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	return d.putNode(ctx, name, a, target, out)
}

// Link gives a file another name in the same bucket: a copy of its object that, with
// the original, carries the group's metadata (links.go). Both names are then one node of
// the mount, so one inode. Another bucket is EXDEV, as another file system would be.
func (d *dirNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f, ok := target.(*fileNode)
	if !ok {
		return nil, syscall.EPERM // a directory (the kernel refuses those first)
	}
	if f.bucket != d.bucket {
		return nil, syscall.EXDEV
	}
	key := d.loc() + name
	if len(key) > maxKeyLength || len(name) > maxNameLength {
		return nil, syscall.ENAMETOOLONG
	}
	d.dropHint(name)
	if errno := f.link(key); errno != 0 {
		return nil, errno
	}
	d.noteName(name, true)
	f.getattr(&out.Attr)
	return f.EmbeddedInode(), 0
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(d.fsys, out)
	return 0
}

// Fsync of a directory has nothing to do in DurableClose: every namespace change is durable
// in the core before the call that made it returns. In DurableFsync the files committed in
// it (and everywhere) become durable, as fsync of a directory on ext4 makes its entries so.
func (d *dirNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if err := d.fsys.syncDrives(); err != nil {
		d.fsys.log.Warn("fusefs: fsync of a directory: syncing the drives", "err", err)
		return syscall.EIO
	}
	return 0
}
