package fusefs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// observedFS is the RawFileSystem of a mount whose Options.Observe is set: it times the
// common operations of the node file system it embeds and hands each call to the recorder
// Observe returned for that operation at mount time, so a call costs two clock reads and a
// function call, with no lookup. The other operations (Forget, locks, ioctl, statx,
// tmpfile, lseek...) pass through unobserved.
//
// A call counts as failed when its status is not OK; that includes the expected answers
// of a healthy mount, such as ENODATA for a GetXAttr of an absent attribute, and a Lookup
// of a name that does not exist (which go-fuse answers OK with no node when it caches
// negative entries, as this mount does). Release and ReleaseDir have no status and never
// fail. The time is that of the file system's answer, not of sending the reply.
type observedFS struct {
	fuse.RawFileSystem

	lookup, getAttr, setAttr                            recorder
	mknod, mkdir, unlink, rmdir, rename, link, symlink  recorder
	readlink, access                                    recorder
	getXAttr, listXAttr, setXAttr, removeXAttr          recorder
	create, open, read, write, copyFileRange, fallocate recorder
	flush, fsync, release                               recorder
	openDir, readDir, readDirPlus, releaseDir, fsyncDir recorder
	statFs                                              recorder
}

var _ fuse.RawFileSystem = (*observedFS)(nil)

// recorder records one call of an operation: how long it took and whether it failed.
type recorder func(d time.Duration, failed bool)

// status records the call that started at start and answered st, and returns st.
func (r recorder) status(start time.Time, st fuse.Status) fuse.Status {
	r(time.Since(start), !st.Ok())
	return st
}

// newObservedFS wraps inner, asking observe once for the recorder of each operation it
// times. A nil recorder records nothing.
func newObservedFS(inner fuse.RawFileSystem, observe func(op string) func(d time.Duration, failed bool)) *observedFS {
	o := &observedFS{RawFileSystem: inner}
	for _, op := range []struct {
		name string
		rec  *recorder
	}{
		{"Lookup", &o.lookup}, {"GetAttr", &o.getAttr}, {"SetAttr", &o.setAttr},
		{"Mknod", &o.mknod}, {"Mkdir", &o.mkdir}, {"Unlink", &o.unlink}, {"Rmdir", &o.rmdir},
		{"Rename", &o.rename}, {"Link", &o.link}, {"Symlink", &o.symlink},
		{"Readlink", &o.readlink}, {"Access", &o.access},
		{"GetXAttr", &o.getXAttr}, {"ListXAttr", &o.listXAttr}, {"SetXAttr", &o.setXAttr},
		{"RemoveXAttr", &o.removeXAttr},
		{"Create", &o.create}, {"Open", &o.open}, {"Read", &o.read}, {"Write", &o.write},
		{"CopyFileRange", &o.copyFileRange}, {"Fallocate", &o.fallocate},
		{"Flush", &o.flush}, {"Fsync", &o.fsync}, {"Release", &o.release},
		{"OpenDir", &o.openDir}, {"ReadDir", &o.readDir}, {"ReadDirPlus", &o.readDirPlus},
		{"ReleaseDir", &o.releaseDir}, {"FsyncDir", &o.fsyncDir},
		{"StatFs", &o.statFs},
	} {
		*op.rec = observe(op.name)
		if *op.rec == nil {
			*op.rec = func(time.Duration, bool) {}
		}
	}
	return o
}

// Lookup records a name that does not exist as failed, whether it is answered ENOENT or,
// as go-fuse does when negative entries are cached, OK with node ID 0.
func (o *observedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	st := o.RawFileSystem.Lookup(cancel, header, name, out)
	o.lookup(time.Since(start), !st.Ok() || out.NodeId == 0)
	return st
}

func (o *observedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := time.Now()
	return o.getAttr.status(start, o.RawFileSystem.GetAttr(cancel, in, out))
}

func (o *observedFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := time.Now()
	return o.setAttr.status(start, o.RawFileSystem.SetAttr(cancel, in, out))
}

func (o *observedFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	return o.mknod.status(start, o.RawFileSystem.Mknod(cancel, in, name, out))
}

func (o *observedFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	return o.mkdir.status(start, o.RawFileSystem.Mkdir(cancel, in, name, out))
}

func (o *observedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	start := time.Now()
	return o.unlink.status(start, o.RawFileSystem.Unlink(cancel, header, name))
}

func (o *observedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	start := time.Now()
	return o.rmdir.status(start, o.RawFileSystem.Rmdir(cancel, header, name))
}

func (o *observedFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	start := time.Now()
	return o.rename.status(start, o.RawFileSystem.Rename(cancel, in, oldName, newName))
}

func (o *observedFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	return o.link.status(start, o.RawFileSystem.Link(cancel, in, name, out))
}

func (o *observedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	return o.symlink.status(start, o.RawFileSystem.Symlink(cancel, header, target, name, out))
}

func (o *observedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	start := time.Now()
	target, st := o.RawFileSystem.Readlink(cancel, header)
	return target, o.readlink.status(start, st)
}

func (o *observedFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	start := time.Now()
	return o.access.status(start, o.RawFileSystem.Access(cancel, in))
}

func (o *observedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := o.RawFileSystem.GetXAttr(cancel, header, attr, dest)
	return n, o.getXAttr.status(start, st)
}

func (o *observedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := o.RawFileSystem.ListXAttr(cancel, header, dest)
	return n, o.listXAttr.status(start, st)
}

func (o *observedFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	start := time.Now()
	return o.setXAttr.status(start, o.RawFileSystem.SetXAttr(cancel, in, attr, data))
}

func (o *observedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	start := time.Now()
	return o.removeXAttr.status(start, o.RawFileSystem.RemoveXAttr(cancel, header, attr))
}

func (o *observedFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	start := time.Now()
	return o.create.status(start, o.RawFileSystem.Create(cancel, in, name, out))
}

func (o *observedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := time.Now()
	return o.open.status(start, o.RawFileSystem.Open(cancel, in, out))
}

func (o *observedFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	start := time.Now()
	res, st := o.RawFileSystem.Read(cancel, in, buf)
	return res, o.read.status(start, st)
}

// Writev is the kernel's WRITE: go-fuse calls Write only when Writev answers ENOSYS, and
// then that Write call is the one recorded.
func (o *observedFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := o.RawFileSystem.Writev(cancel, in, data)
	if st == fuse.ENOSYS {
		return n, st
	}
	return n, o.write.status(start, st)
}

func (o *observedFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := o.RawFileSystem.Write(cancel, in, data)
	return n, o.write.status(start, st)
}

func (o *observedFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	start := time.Now()
	n, st := o.RawFileSystem.CopyFileRange(cancel, in)
	return n, o.copyFileRange.status(start, st)
}

func (o *observedFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	start := time.Now()
	return o.fallocate.status(start, o.RawFileSystem.Fallocate(cancel, in))
}

func (o *observedFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	start := time.Now()
	return o.flush.status(start, o.RawFileSystem.Flush(cancel, in))
}

func (o *observedFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	start := time.Now()
	return o.fsync.status(start, o.RawFileSystem.Fsync(cancel, in))
}

func (o *observedFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	start := time.Now()
	o.RawFileSystem.Release(cancel, in)
	o.release(time.Since(start), false)
}

func (o *observedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := time.Now()
	return o.openDir.status(start, o.RawFileSystem.OpenDir(cancel, in, out))
}

func (o *observedFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := time.Now()
	return o.readDir.status(start, o.RawFileSystem.ReadDir(cancel, in, out))
}

func (o *observedFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := time.Now()
	return o.readDirPlus.status(start, o.RawFileSystem.ReadDirPlus(cancel, in, out))
}

func (o *observedFS) ReleaseDir(in *fuse.ReleaseIn) {
	start := time.Now()
	o.RawFileSystem.ReleaseDir(in)
	o.releaseDir(time.Since(start), false)
}

func (o *observedFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	start := time.Now()
	return o.fsyncDir.status(start, o.RawFileSystem.FsyncDir(cancel, in))
}

func (o *observedFS) StatFs(cancel <-chan struct{}, header *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	start := time.Now()
	return o.statFs.status(start, o.RawFileSystem.StatFs(cancel, header, out))
}
