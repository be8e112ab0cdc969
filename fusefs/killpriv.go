package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// killPrivFS drops a file's set-id bits where the kernel, mounted with
// CAP_HANDLE_KILLPRIV_V2, leaves it to the file system and go-fuse's node API does not pass
// the request's flag on: a write (WRITE_KILL_SUIDGID) and an open with O_TRUNC
// (OPEN_KILL_SUIDGID) by a caller without CAP_FSETID. The kernel sets them only when the
// file has a set-id bit, so the common write pays nothing. The bits go as a setattr with
// FATTR_KILL_SUIDGID alone would drop them (applySetattr), before the write (as the kernel
// does) and before the open.
type killPrivFS struct {
	fuse.RawFileSystem
}

var _ fuse.RawFileSystem = killPrivFS{}

func (k killPrivFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if in.WriteFlags&fuse.WRITE_KILL_SUIDGID != 0 {
		if st := k.dropSetID(cancel, &in.InHeader); !st.Ok() {
			return 0, st
		}
	}
	return k.RawFileSystem.Write(cancel, in, data)
}

func (k killPrivFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if in.WriteFlags&fuse.WRITE_KILL_SUIDGID != 0 {
		if st := k.dropSetID(cancel, &in.InHeader); !st.Ok() {
			return 0, st
		}
	}
	return k.RawFileSystem.Writev(cancel, in, data)
}

func (k killPrivFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if in.Mode&fuse.OPEN_KILL_SUIDGID != 0 {
		// Before the open, so that a failure leaves no handle open behind the error.
		if st := k.dropSetID(cancel, &in.InHeader); !st.Ok() {
			return st
		}
	}
	return k.RawFileSystem.Open(cancel, in, out)
}

// dropSetID drops the set-id bits of the node that header names.
func (k killPrivFS) dropSetID(cancel <-chan struct{}, header *fuse.InHeader) fuse.Status {
	in := fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{InHeader: *header, Valid: fuse.FATTR_KILL_SUIDGID}}
	var out fuse.AttrOut
	return k.RawFileSystem.SetAttr(cancel, &in, &out)
}
