package fusefs

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
)

// The flags of renameat2.
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
)

// Rename moves a file (one atomic, metadata-only rename in the core) or a directory (every
// key below it, one by one: not atomic). RENAME_NOREPLACE is honoured atomically for files;
// RENAME_EXCHANGE is not supported (EINVAL). Renames across buckets are EXDEV, so that mv
// copies.
func (d *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags&renameExchange != 0 || flags&^(renameNoReplace|renameExchange) != 0 {
		return syscall.EINVAL
	}
	dst, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	if dst.bucket != d.bucket {
		return syscall.EXDEV
	}
	noReplace := flags&renameNoReplace != 0
	srcKey, dstKey := d.loc()+name, dst.loc()+newName
	if len(dstKey)+1 > maxKeyLength || len(newName) > maxNameLength {
		return syscall.ENAMETOOLONG
	}
	errno := d.rename(ctx, name, dst, newName, srcKey, dstKey, noReplace)
	if errno == 0 {
		d.noteName(name, false)
		dst.noteName(newName, true)
	} else {
		// A directory rename may have moved some keys: neither side is known whole.
		d.forgetComplete()
		dst.forgetComplete()
	}
	return errno
}

// rename is Rename once the arguments are checked.
func (d *dirNode) rename(ctx context.Context, name string, dst *dirNode, newName, srcKey, dstKey string, noReplace bool) syscall.Errno {
	var target *fs.Inode
	ch := d.GetChild(name)
	if t := dst.GetChild(newName); t != nil && t != ch {
		target = t
	}
	if ch == nil {
		// The kernel looked the source up before renaming, but the node may be forgotten.
		h, errno := d.resolve(srcKey)
		if errno != 0 {
			return errno
		}
		if h.isDir {
			return d.renameDir(nil, srcKey+"/", dstKey+"/", target, noReplace)
		}
		return d.renameFile(nil, srcKey, dstKey, target, noReplace)
	}
	switch src := ch.Operations().(type) {
	case *fileNode:
		errno := d.renameFile(src, srcKey, dstKey, target, noReplace)
		if errno == 0 && target != nil {
			// The kernel keeps the replaced file's attributes: it must see nlink 0 through
			// the descriptors still open on it. An attribute-only invalidation waits on
			// nothing, so it is safe inside the rename.
			target.NotifyContent(-1, 0)
		}
		return errno
	case *dirNode:
		return d.renameDir(src, srcKey+"/", dstKey+"/", target, noReplace)
	}
	return syscall.EIO
}

// renameFile commits the file if it has changes, then renames its object.
func (d *dirNode) renameFile(src *fileNode, srcKey, dstKey string, target *fs.Inode, noReplace bool) syscall.Errno {
	var replaced *fileNode
	if target != nil {
		switch t := target.Operations().(type) {
		case *dirNode:
			return syscall.EISDIR
		case *fileNode:
			replaced = t
		}
		if noReplace {
			return syscall.EEXIST
		}
	}
	end := func(bool) {}
	if src != nil {
		src.mu.Lock()
		defer src.unlock()
		if errno := src.commitLocked(); errno != 0 {
			return errno
		}
		var errno syscall.Errno
		if end, errno = src.beginRenameLocked(srcKey, dstKey); errno != 0 {
			return errno
		}
	}
	_, err := d.fsys.layer.RenameObject(d.fsys.ctx, d.bucket, srcKey, dstKey, objstore.RenameOptions{NoReplace: noReplace})
	if err != nil {
		end(true) // nothing moved
		return toErrno(err)
	}
	var errno syscall.Errno
	if src != nil {
		src.attrs.ctime, src.ctimeUnsaved = time.Now(), true
		// A file with hard links stores its names' new list at once.
		errno = src.renameNameLocked(srcKey, dstKey)
		end(errno == 0)
	}
	if replaced != nil && replaced != src {
		// Lock order: the source's lock, then the replaced file's; they differ. A
		// replaced file with other names loses this one only.
		replaced.mu.Lock()
		if replaced.dropNameLocked(dstKey) {
			replaced.setLinksMetaLocked(replaced.meta[metaLinkGroup])
			replaced.metaDirty = true
			if e := replaced.storeMetaLocked(); errno == 0 {
				errno = e
			}
		} else {
			replaced.unlinked = true
		}
		replaced.unlock()
	}
	return errno
}

// renameDir moves every key below srcPrefix to dstPrefix. The destination, if it exists,
// must be an empty directory. Files being written below the source are committed first,
// and the nodes the mount knows below it follow the move.
func (d *dirNode) renameDir(src *dirNode, srcPrefix, dstPrefix string, target *fs.Inode, noReplace bool) syscall.Errno {
	l, ctx := d.fsys.layer, d.fsys.ctx
	if srcPrefix == dstPrefix {
		return 0
	}
	if strings.HasPrefix(dstPrefix, srcPrefix) {
		return syscall.EINVAL
	}
	if target != nil {
		if _, ok := target.Operations().(*dirNode); !ok {
			return syscall.ENOTDIR
		}
	}
	res, err := l.ListObjects(ctx, d.bucket, objstore.ListOptions{Prefix: dstPrefix, MaxKeys: 2})
	if err != nil {
		return toErrno(err)
	}
	for _, o := range res.Objects {
		if noReplace {
			return syscall.EEXIST
		}
		if o.Key != dstPrefix {
			return syscall.ENOTEMPTY
		}
	}
	if noReplace && target != nil {
		return syscall.EEXIST
	}
	if src != nil {
		if errno := commitTree(src.EmbeddedInode()); errno != 0 {
			return errno
		}
	}
	if pr, ok := l.(objstore.PrefixRenamer); ok {
		// One crash-safe operation of the core, which also rewrites the lists of names of
		// the hard-linked files it moves.
		err = pr.RenamePrefix(ctx, d.bucket, srcPrefix, dstPrefix, objstore.RenamePrefixOptions{KeyLists: []string{metaLinks}})
		if err != nil {
			return toErrno(err)
		}
	} else if errno := renameKeysOneByOne(d.fsys, d.bucket, srcPrefix, dstPrefix, len(res.Objects) == 1); errno != 0 {
		return errno
	}
	if src != nil {
		moveTree(src, srcPrefix, dstPrefix)
		src.touchCtime(time.Now())
	}
	return 0
}

// renameKeysOneByOne is a directory rename through a layer that cannot rename a prefix
// crash-safely: every key moves on its own (dropDstMarker first removes the marker of the
// empty directory replaced), then the lists of names of hard-linked files are rewritten.
// A crash in the middle leaves the tree half under each name.
func renameKeysOneByOne(f *fsys, bucket, srcPrefix, dstPrefix string, dropDstMarker bool) syscall.Errno {
	l, ctx := f.layer, f.ctx
	if dropDstMarker {
		// An empty explicit destination: its marker goes, the source's (if any) replaces it.
		if err := l.DeleteObject(ctx, bucket, dstPrefix); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return toErrno(err)
		}
	}
	// linked are the moved names of hard-linked files: their groups' lists of names are
	// rewritten once every key moved.
	var linked []objstore.ObjectInfo
	for marker := ""; ; {
		page, err := l.ListObjects(ctx, bucket, objstore.ListOptions{Prefix: srcPrefix, Marker: marker, MaxKeys: listPage})
		if err != nil {
			return toErrno(err)
		}
		for _, o := range page.Objects {
			if len(dstPrefix)+len(o.Key)-len(srcPrefix) > maxKeyLength {
				return syscall.ENAMETOOLONG
			}
		}
		if errno := renameKeys(f, bucket, page.Objects, srcPrefix, dstPrefix); errno != 0 {
			return errno
		}
		for _, o := range page.Objects {
			if o.Metadata[metaLinkGroup] != "" {
				linked = append(linked, o)
			}
		}
		if !page.IsTruncated {
			break
		}
		marker = page.NextMarker
	}
	if errno := relinkMoved(f, bucket, linked, srcPrefix, dstPrefix); errno != 0 {
		return errno
	}
	return 0
}

// A rename changes the renamed inode's ctime, as on ext4 (POSIX conformance suites check
// it). The core's rename keeps the metadata as it was, and a second, durable metadata
// update after every rename made renames 3-4 times slower (2.5 ms against 6-14 ms a
// rename of a small file, 4 drives, measured side by side), for rsync and git, which
// rename every file they write. So a file's new ctime is shown at once and kept in memory
// (fileNode.ctimeUnsaved), and stored with the file's next metadata update; it is lost if
// the mount ends first (the stored ctime then shows). A directory's is stored at once, in
// its marker: a directory rename moves every key below it anyway.

// touchCtime sets the ctime of a directory just renamed to now, in its marker. An implicit
// directory has no marker, and none is made for this: it keeps showing the mount's start.
func (d *dirNode) touchCtime(now time.Time) {
	d.mu.Lock()
	explicit, a := d.loaded && d.explicit, d.attrs
	d.mu.Unlock()
	if !explicit {
		return
	}
	a.ctime = now
	if errno := d.saveMarker(func(md map[string]string) { putPosix(md, a, true) }, a); errno != 0 {
		d.fsys.log.Warn("fusefs: storing the ctime of a renamed directory", "bucket", d.bucket, "prefix", d.loc(), "errno", errno)
	}
}

// renameKeys renames objects from srcPrefix to dstPrefix, one at a time: concurrent
// renames of sibling keys fail in the core today (a drive removes a source directory that
// another rename is using; see TestCoreConcurrentSiblingRenames).
func renameKeys(f *fsys, bucket string, objs []objstore.ObjectInfo, srcPrefix, dstPrefix string) syscall.Errno {
	for _, o := range objs {
		_, err := f.layer.RenameObject(f.ctx, bucket, o.Key, dstPrefix+o.Key[len(srcPrefix):], objstore.RenameOptions{})
		if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return toErrno(err)
		}
	}
	return 0
}

// commitTree commits every file with changes below a directory node.
func commitTree(n *fs.Inode) syscall.Errno {
	for _, ch := range n.Children() {
		switch op := ch.Operations().(type) {
		case *fileNode:
			op.mu.Lock()
			errno := op.commitLocked()
			op.unlock()
			if errno != 0 {
				return errno
			}
		case *dirNode:
			if errno := commitTree(ch); errno != 0 {
				return errno
			}
		}
	}
	return 0
}

// moveTree rewrites the keys of a moved directory node and of the nodes below it.
func moveTree(d *dirNode, from, to string) {
	if p := d.loc(); strings.HasPrefix(p, from) {
		moved := to + p[len(from):]
		d.prefix.Store(&moved)
	}
	d.mu.Lock()
	d.hints = nil
	d.mu.Unlock()
	for _, ch := range d.Children() {
		switch op := ch.Operations().(type) {
		case *fileNode:
			op.mu.Lock()
			op.moveNamesLocked(from, to)
			op.unlock()
		case *dirNode:
			moveTree(op, from, to)
		}
	}
}
