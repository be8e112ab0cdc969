package fusefs

import (
	"context"
	"syscall"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rootNode is the mount's root: one directory per bucket. Buckets are made and removed
// with mkdir and rmdir; nothing else can be written here (EROFS).
type rootNode struct {
	fs.Inode
	fsys *fsys
}

var (
	_ fs.NodeLookuper  = (*rootNode)(nil)
	_ fs.NodeReaddirer = (*rootNode)(nil)
	_ fs.NodeGetattrer = (*rootNode)(nil)
	_ fs.NodeSetattrer = (*rootNode)(nil)
	_ fs.NodeMkdirer   = (*rootNode)(nil)
	_ fs.NodeRmdirer   = (*rootNode)(nil)
	_ fs.NodeCreater   = (*rootNode)(nil)
	_ fs.NodeSymlinker = (*rootNode)(nil)
	_ fs.NodeMknoder   = (*rootNode)(nil)
	_ fs.NodeRenamer   = (*rootNode)(nil)
	_ fs.NodeStatfser  = (*rootNode)(nil)
)

func (r *rootNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a := attrs{mode: defaultDirMode, uid: r.fsys.def.uid, gid: r.fsys.def.gid,
		mtime: r.fsys.started, atime: r.fsys.started, ctime: r.fsys.started}
	a.fill(&out.Attr, 1)
	return 0
}

// Setattr refuses: the root's attributes are not stored anywhere.
func (r *rootNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	info, err := r.fsys.layer.GetBucketInfo(r.fsys.ctx, name)
	if err != nil {
		return nil, toErrno(err)
	}
	if ch := r.GetChild(name); ch != nil {
		if d, ok := ch.Operations().(*dirNode); ok {
			d.bucketAttrs(info, &out.Attr)
			return ch, 0
		}
	}
	d := newDirNode(r.fsys, name, "")
	d.bucketAttrs(info, &out.Attr)
	return r.NewInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	buckets, err := r.fsys.layer.ListBuckets(r.fsys.ctx)
	if err != nil {
		return nil, toErrno(err)
	}
	entries := make([]fuse.DirEntry, len(buckets))
	for i, b := range buckets {
		entries[i] = fuse.DirEntry{Name: b.Name, Mode: syscall.S_IFDIR}
	}
	return fs.NewListDirStream(entries), 0
}

// Mkdir creates a bucket: EINVAL for a name S3 refuses, EEXIST if it exists.
func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := r.fsys.layer.MakeBucket(r.fsys.ctx, name, objstore.MakeBucketOptions{}); err != nil {
		return nil, toErrno(err)
	}
	info, err := r.fsys.layer.GetBucketInfo(r.fsys.ctx, name)
	if err != nil {
		return nil, toErrno(err)
	}
	d := newDirNode(r.fsys, name, "")
	d.bucketAttrs(info, &out.Attr)
	d.markComplete()
	return r.NewInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// Rmdir removes an empty bucket: ENOTEMPTY if it holds objects.
func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return toErrno(r.fsys.layer.DeleteBucket(r.fsys.ctx, name))
}

// Create refuses: the root holds buckets only.
func (r *rootNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Symlink refuses: the root holds buckets only.
func (r *rootNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod refuses: no fifo, socket or device can be made among the buckets.
func (r *rootNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Rename refuses: buckets cannot be renamed.
func (r *rootNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Statfs reports the usable capacity of the drives (parity excluded), in 4 KiB blocks.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(r.fsys, out)
	return 0
}

func statfs(f *fsys, out *fuse.StatfsOut) {
	info := f.layer.StorageInfo(f.ctx)
	const bs = 4096
	out.Bsize = bs
	out.Frsize = bs
	out.Blocks = info.UsableTotal / bs
	out.Bfree = info.UsableFree / bs
	out.Bavail = info.UsableFree / bs
	out.Files = info.Files
	out.Ffree = info.FreeFiles
	out.NameLen = 255
}
