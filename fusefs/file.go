package fusefs

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileNode is a regular file, a symlink or a special file (fifo, socket, device): one
// object. A special file's object is empty; the kernel opens it itself (pipe, socket or
// device driver), so Open is never asked for it. Its content state machine lives in
// content.go, its open handles in handle.go.
type fileNode struct {
	fs.Inode
	fsys   *fsys
	bucket string
	// gen counts changes made to the object by others (through S3): cached attributes,
	// readers and clean staging copies older than gen are dropped before use.
	gen atomic.Uint64
	// gone is set when someone else deleted the object: the file shows nlink 0.
	gone atomic.Bool

	// mu serialises everything below, and the writes, commits and truncates of the file.
	// It is held across the core calls that commit or stage the file.
	mu sync.Mutex
	// key is the object's key. GUARDED_BY(mu); rename changes it.
	key string
	// links are the file's other names, keys of the same bucket, when it has hard links:
	// each is an object holding a copy of key's (links.go). GUARDED_BY(mu).
	// INVARIANT: no duplicates, key not among them.
	links []string
	// attrs are the file's attributes as the mount shows them: size follows the content,
	// not the committed object, while the file is dirty. GUARDED_BY(mu).
	attrs attrs
	// attrGen is the value of gen that attrs, info and meta were read at; reload forces a
	// reread (after changes were discarded). GUARDED_BY(mu).
	attrGen uint64
	reload  bool
	// atimeSet tells that the access time was set explicitly (utimens) and must be stored.
	// The mtime is always stored: it is the time the mount showed while the file was
	// written, which the object's own time (the commit's) is not.
	atimeSet bool
	// info is the last committed version, as the core described it. GUARDED_BY(mu).
	info objstore.ObjectInfo
	// meta is the object's metadata other than the POSIX attributes (content-type, xattrs,
	// others' x-amz-meta-*), to store at the next commit. GUARDED_BY(mu).
	meta map[string]string
	// metaDirty tells that attrs or meta changed and are not stored yet. GUARDED_BY(mu).
	metaDirty bool
	// committed tells that the core holds a version of this file. GUARDED_BY(mu).
	// INVARIANT: !committed implies the file was created through the mount and c is dirty.
	committed bool
	// unlinked tells that the file was removed through the mount (or replaced by a
	// rename): it shows nlink 0 and is never committed again. GUARDED_BY(mu).
	unlinked bool
	// c is the content. GUARDED_BY(mu).
	c content
	// opens counts the open handles. GUARDED_BY(mu).
	opens int
	// reader reads the committed version for clean content; nil until needed.
	// GUARDED_BY(mu).
	reader *sharedReader
	// target caches a symlink's target, read at targetGen. GUARDED_BY(mu).
	target    string
	targetGen uint64
	hasTarget bool
	// ctimeUnsaved tells that attrs.ctime was set by a rename and is not stored: it is
	// stored with the next metadata update, and a reload of the object keeps it while it is
	// the later one (rename.go). GUARDED_BY(mu).
	ctimeUnsaved bool
	// werr is the error of a failed streamed commit, reported by the next flush, fsync or
	// write. GUARDED_BY(mu).
	werr syscall.Errno
	// invalidate tells that changes were discarded: the kernel's page and attribute caches
	// hold them and must be dropped once mu is released (unlock does). GUARDED_BY(mu).
	invalidate bool
	// vanished tells that a file never committed had its changes discarded: it does not
	// exist, and its directory entry must be dropped once mu is released (unlock does), or
	// stat would still find it. GUARDED_BY(mu).
	vanished bool
}

// unlock releases mu, then has the kernel drop its caches of the file if its changes were
// discarded meanwhile. The notification goes from another goroutine: a read or write
// request holds the kernel's page locks while it waits for this one to answer, and a page
// invalidation waits for those locks.
func (n *fileNode) unlock() {
	inval, gone := n.invalidate, n.vanished
	n.invalidate, n.vanished = false, false
	n.mu.Unlock()
	if inval {
		go func() {
			n.NotifyContent(0, 0)
			if gone {
				n.dropEntry()
			}
		}()
	}
}

// unlockSync is unlock for the requests that hold no page lock (flush, fsync, release):
// the kernel's caches are dropped before the request returns, so that the next read
// already sees the committed content.
func (n *fileNode) unlockSync() {
	inval, gone := n.invalidate, n.vanished
	n.invalidate, n.vanished = false, false
	n.mu.Unlock()
	if inval {
		n.NotifyContent(0, 0)
	}
	if gone {
		n.dropEntry()
	}
}

// dropEntry removes the name of a file that turned out never to exist from its directory:
// from the directory's knowledge, its children and the kernel's entry cache; unless the
// name was given to another file meanwhile.
func (n *fileNode) dropEntry() {
	name, parent := n.Parent()
	if parent == nil || parent.GetChild(name) != n.EmbeddedInode() {
		return
	}
	if d, ok := parent.Operations().(*dirNode); ok {
		d.noteName(name, false)
	}
	parent.RmChild(name)
	parent.NotifyEntry(name)
}

var (
	_ fs.NodeGetattrer     = (*fileNode)(nil)
	_ fs.NodeSetattrer     = (*fileNode)(nil)
	_ fs.NodeOpener        = (*fileNode)(nil)
	_ fs.NodeReadlinker    = (*fileNode)(nil)
	_ fs.NodeGetxattrer    = (*fileNode)(nil)
	_ fs.NodeSetxattrer    = (*fileNode)(nil)
	_ fs.NodeRemovexattrer = (*fileNode)(nil)
	_ fs.NodeListxattrer   = (*fileNode)(nil)
	_ fs.NodeStatfser      = (*fileNode)(nil)
	_ fs.NodeOnForgetter   = (*fileNode)(nil)
)

// newFileNode returns the node of a committed object.
func newFileNode(f *fsys, bucket, key string, info objstore.ObjectInfo) *fileNode {
	n := &fileNode{fsys: f, bucket: bucket, key: key, committed: true}
	n.loadInfoLocked(info)
	return n
}

// newCreatedFile returns the node of a file created through the mount: empty, dirty,
// not in the core yet.
func newCreatedFile(f *fsys, bucket, key string, mode uint32, who owner) *fileNode {
	now := time.Now()
	n := &fileNode{fsys: f, bucket: bucket, key: key}
	n.attrs = attrs{mode: syscall.S_IFREG | mode&0o7777, uid: who.uid, gid: who.gid, mtime: now, atime: now, ctime: now}
	n.meta = map[string]string{"content-type": contentType(key)}
	n.c = content{state: stateBuffer, dirty: true}
	return n
}

// posixKeys are the metadata names of the POSIX attributes, kept in attrs rather than meta.
var posixKeys = []string{metaMode, metaUID, metaGID, metaMtime, metaAtime, metaCtime, metaRdev}

// loadInfoLocked takes the attributes and metadata of a committed version.
func (n *fileNode) loadInfoLocked(info objstore.ObjectInfo) {
	renamed := n.attrs.ctime
	n.info = info
	n.attrs = attrsFromInfo(info, false, n.fsys.def)
	if n.ctimeUnsaved && renamed.After(n.attrs.ctime) {
		n.attrs.ctime = renamed
	} else {
		n.ctimeUnsaved = false
	}
	_, n.atimeSet = info.Metadata[metaAtime]
	n.meta = maps.Clone(info.Metadata)
	if n.meta == nil {
		n.meta = map[string]string{}
	}
	for _, k := range posixKeys {
		delete(n.meta, k)
	}
	if _, _, ok := groupOf(n.meta, n.key); !ok {
		// Link metadata that does not list this key was copied from another name (an S3
		// copy): this object is no name of that group.
		delete(n.meta, metaLinkGroup)
		delete(n.meta, metaLinks)
	}
	n.metaDirty = false
}

// fileType returns the node's file type bits (they never change).
func (n *fileNode) fileType() uint32 {
	n.mu.Lock()
	defer n.unlock()
	return n.attrs.mode & syscall.S_IFMT
}

// pendingCreate reports whether the file was created through the mount and is not in the
// core yet.
func (n *fileNode) pendingCreate() bool {
	n.mu.Lock()
	defer n.unlock()
	return !n.committed && !n.unlinked
}

// getattr fills out from the cached attributes.
func (n *fileNode) getattr(out *fuse.Attr) {
	n.mu.Lock()
	defer n.unlock()
	n.fillLocked(out)
}

func (n *fileNode) fillLocked(out *fuse.Attr) {
	nlink := uint32(1 + len(n.links))
	if n.unlinked || n.gone.Load() {
		nlink = 0
	}
	n.attrs.fill(out, nlink)
}

// refreshLocked rereads the object's information if someone else changed it since it was
// read, unless the mount has changes of its own to commit (the last writer wins).
func (n *fileNode) refreshLocked() {
	g := n.gen.Load()
	if g == n.attrGen && !n.reload {
		return
	}
	if n.c.dirty || n.metaDirty || n.unlinked || !n.committed {
		n.attrGen = g
		return
	}
	info, err := n.fsys.layer.StatObject(n.fsys.ctx, n.bucket, n.key)
	switch {
	case errors.Is(err, objstore.ErrObjectNotFound):
		n.gone.Store(true)
	case err != nil:
		return // keep what is cached; the next call tries again
	default:
		n.gone.Store(false)
		n.loadInfoLocked(info)
		n.dropStageLocked()
	}
	n.attrGen, n.reload = g, false
	n.hasTarget = false
}

func (n *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	n.fillLocked(&out.Attr)
	return 0
}

// Setattr truncates, and changes mode, owner and times. A truncate by path (no open
// handle) commits at once; one through a descriptor waits for its flush. Attribute
// changes of a clean file are stored at once, those of a dirty one with its content.
func (n *fileNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	if size, ok := in.GetSize(); ok {
		if n.attrs.mode&syscall.S_IFMT != syscall.S_IFREG {
			return syscall.EINVAL
		}
		if errno := n.truncateLocked(int64(size)); errno != 0 {
			return errno
		}
		if fh == nil {
			if errno := n.commitLocked(); errno != 0 {
				// The truncate failed: the file stays as it was.
				n.discardLocked()
				return errno
			}
		}
	}
	_, m := in.GetMode()
	_, u := in.GetUID()
	_, g := in.GetGID()
	_, mt := in.GetMTime()
	_, at := in.GetATime()
	// A chown that changes nothing (chown(-1, -1), or to the owner it has) still moves the
	// ctime, as on a local file system: the kernel sends ctime alone (or nothing, below).
	_, ct := in.GetCTime()
	kill := in.Valid&fuse.FATTR_KILL_SUIDGID != 0 && n.attrs.mode&(syscall.S_ISUID|syscall.S_ISGID) != 0
	// A request with no field at all is a chown that changes nothing (chown(-1, -1)):
	// mounted with CAP_HANDLE_KILLPRIV_V2 the kernel leaves the set-id bits to the mount
	// and sends none of it. As ext4 does, it drops them and moves the ctime.
	const fields = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_SIZE | fuse.FATTR_ATIME |
		fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW | fuse.FATTR_CTIME | fuse.FATTR_KILL_SUIDGID
	if in.Valid&fields == 0 {
		in.Valid |= fuse.FATTR_KILL_SUIDGID // for applySetattr (in is this request's alone)
		ct = true
	}
	if m || u || g || mt || at || ct || kill {
		_, atimeSet := applySetattr(&n.attrs, in, time.Now())
		n.atimeSet = n.atimeSet || atimeSet
		n.metaDirty = true
		if errno := n.storeMetaLocked(); errno != 0 {
			return errno
		}
	}
	n.fillLocked(&out.Attr)
	return 0
}

// storeMetaLocked stores changed attributes and metadata of a clean, committed file with a
// metadata-only update; for a dirty file they wait for its commit. A file with several
// names updates them all under an intent of the core's journal.
func (n *fileNode) storeMetaLocked() syscall.Errno {
	if !n.metaDirty || n.c.dirty || !n.committed || n.unlinked {
		return 0
	}
	if len(n.links) == 0 {
		return n.storeMetaUnjournaledLocked()
	}
	end, errno := n.beginNamesLocked(n.key, n.namesLocked(), nil)
	if errno != 0 {
		return errno
	}
	errno = n.storeMetaUnjournaledLocked()
	end(errno == 0)
	return errno
}

// storeMetaUnjournaledLocked is storeMetaLocked within an intent the caller began.
func (n *fileNode) storeMetaUnjournaledLocked() syscall.Errno {
	if !n.metaDirty || n.c.dirty || !n.committed || n.unlinked {
		return 0
	}
	md := n.objectMetaLocked()
	md[metaCtime] = formatTime(n.attrs.ctime)
	patch := objstore.MetadataPatch{Set: md}
	for k := range n.info.Metadata {
		if _, keep := md[k]; !keep {
			patch.Delete = append(patch.Delete, k)
		}
	}
	info, err := n.fsys.layer.UpdateObjectMetadata(n.fsys.ctx, n.bucket, n.key, patch)
	if err != nil {
		return toErrno(err)
	}
	n.info = info
	if errno := n.patchLinksLocked(patch); errno != 0 {
		return errno
	}
	n.metaDirty, n.ctimeUnsaved = false, false
	return 0
}

// objectMetaLocked returns the metadata to store with the file's content: its other
// metadata, mode, owner and mtime, the atime if set explicitly, and a content type.
func (n *fileNode) objectMetaLocked() map[string]string {
	md := maps.Clone(n.meta)
	if md == nil {
		md = map[string]string{}
	}
	putPosix(md, n.attrs, false)
	md[metaMtime] = formatTime(n.attrs.mtime)
	if n.atimeSet {
		md[metaAtime] = formatTime(n.attrs.atime)
	}
	if md["content-type"] == "" {
		md["content-type"] = contentType(n.key)
	}
	return md
}

// Open opens the file. O_TRUNC empties it (committed at the handle's flush). The kernel
// keeps its page cache across opens: the change feed invalidates it when someone else
// changes the object.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	if n.gone.Load() && !n.c.dirty {
		return nil, 0, syscall.ENOENT
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := n.truncateLocked(0); errno != 0 {
			return nil, 0, errno
		}
	}
	return n.openLocked(), fuse.FOPEN_KEEP_CACHE, 0
}

// open returns a new handle.
func (n *fileNode) open() *fileHandle {
	n.mu.Lock()
	defer n.unlock()
	return n.openLocked()
}

func (n *fileNode) openLocked() *fileHandle {
	n.opens++
	return &fileHandle{n: n}
}

// unlink removes the file's name through the mount: remove deletes its object from the
// core (pending tells it that the core never held the file). Its open descriptors keep
// working on a private copy: a file streaming into the core is committed and staged
// first, and a clean one keeps a reader of its version. The file is marked removed before
// remove runs, and remove runs without mu: the core calls back into the mount (detach)
// under the key's lock that remove takes. An unlink the core refuses leaves the file and
// its name as they were (the kernel keeps the name), so the mark is taken back: the writes
// made through that name afterwards must be committed, not dropped as a removed file's.
func (n *fileNode) unlink(remove func(pending bool) syscall.Errno) syscall.Errno {
	n.mu.Lock()
	pending, was := !n.committed, n.unlinked
	if n.opens > 0 {
		switch n.c.state {
		case stateStream:
			if errno := n.toStagedLocked(); errno != 0 {
				n.unlock()
				return errno
			}
		case stateClean:
			if r, errno := n.readerLocked(); errno == 0 {
				r.release() // the node keeps its own reference
			}
		}
	}
	n.unlinked = true
	n.unlock()
	errno := remove(pending)
	if errno != 0 && !was {
		n.mu.Lock()
		n.unlinked = false
		n.unlock()
	}
	return errno
}

// Readlink returns a symlink's target: the object's content.
func (n *fileNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	if n.attrs.mode&syscall.S_IFMT != syscall.S_IFLNK {
		return nil, syscall.EINVAL
	}
	if n.hasTarget && n.targetGen == n.gen.Load() {
		return []byte(n.target), 0
	}
	gen := n.gen.Load()
	h, err := n.fsys.layer.OpenObject(n.fsys.ctx, n.bucket, n.key)
	if err != nil {
		return nil, toErrno(err)
	}
	defer h.Close()
	size := h.Info().Size
	if size > 4096 {
		return nil, syscall.ENAMETOOLONG
	}
	buf := make([]byte, size)
	if _, err := h.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, toErrno(err)
	}
	n.target, n.targetGen, n.hasTarget = string(buf), gen, true
	return buf, 0
}

func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(n.fsys, out)
	return 0
}

// OnForget drops what the node holds once the kernel forgot it.
func (n *fileNode) OnForget() {
	n.mu.Lock()
	defer n.unlock()
	if n.opens == 0 {
		n.dropStageLocked()
		n.dropReaderLocked()
	}
	if id := n.meta[metaLinkGroup]; id != "" {
		n.fsys.groups.drop(id, n)
	}
}

// adopt updates the node with what a lookup found at key, if the node still stands for it:
// same key and file type, not removed. A node with changes of its own keeps them.
func (n *fileNode) adopt(key string, info objstore.ObjectInfo) bool {
	n.mu.Lock()
	defer n.unlock()
	if (n.key != key && !slices.Contains(n.links, key)) || n.unlinked {
		return false
	}
	if attrsFromInfo(info, false, n.fsys.def).mode&syscall.S_IFMT != n.attrs.mode&syscall.S_IFMT {
		return false
	}
	n.gone.Store(false)
	if !n.c.dirty && !n.metaDirty && n.info.ETag != "" && info.ETag != n.info.ETag {
		// Another version: what was read of the old one must go.
		n.dropStageLocked()
		n.dropReaderLocked()
		n.hasTarget = false
	}
	if !n.c.dirty && !n.metaDirty {
		n.loadInfoLocked(info)
		n.committed = true
		n.attrGen = n.gen.Load()
	}
	return true
}
