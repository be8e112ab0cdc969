package fusefs

import (
	"mime"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The user metadata under which POSIX attributes persist: the names s3fs uses, so that
// buckets written by s3fs (and rclone, which writes x-amz-meta-mtime) mount with their modes,
// owners and times, and buckets written through this mount read right through s3fs.
const (
	metaMode  = "x-amz-meta-mode"  // st_mode in decimal, type bits included (s3fs)
	metaUID   = "x-amz-meta-uid"   // decimal
	metaGID   = "x-amz-meta-gid"   // decimal
	metaMtime = "x-amz-meta-mtime" // seconds since the epoch, "sec" or "sec.nanoseconds"
	metaAtime = "x-amz-meta-atime"
	metaCtime = "x-amz-meta-ctime"
	// metaRdev is the device number of a character or block device: decimal, in the
	// encoding of glibc's dev_t (which for majors below 4096 is the kernel's 32-bit one
	// that FUSE carries), as s3fs stores st_rdev.
	metaRdev = "x-amz-meta-rdev"
	// metaXattr holds the user.* extended attributes (xattr.go).
	metaXattr = "x-amz-meta-xattr"
)

// Default permissions of objects that carry no mode (written by S3 clients).
const (
	defaultFileMode = syscall.S_IFREG | 0o644
	defaultDirMode  = syscall.S_IFDIR | 0o755
	// blockSize is the st_blksize reported: tools size their buffers from it, and a write
	// of this size is one FUSE request (Options.MaxWrite).
	blockSize = 1 << 20
)

// attrs are the POSIX attributes of a file, symlink, special file or directory.
type attrs struct {
	mode                uint32 // type and permission bits
	uid, gid            uint32
	rdev                uint32 // device number of a character or block device, else 0
	size                uint64
	mtime, atime, ctime time.Time
}

// owner is the uid and gid given to objects that carry none.
type owner struct{ uid, gid uint32 }

// attrsFromInfo derives attributes from an object's information: its POSIX metadata where
// present, else defaults (mode 0644 or 0755, the default owner, the object's time). isDir
// tells that the object is a directory marker.
func attrsFromInfo(info objstore.ObjectInfo, isDir bool, def owner) attrs {
	a := attrs{mode: defaultFileMode, uid: def.uid, gid: def.gid, size: uint64(max(info.Size, 0))}
	if isDir {
		a.mode, a.size = defaultDirMode, 0
	}
	md := info.Metadata
	if m, ok := parseMode(md[metaMode]); ok {
		switch {
		case isDir:
			a.mode = syscall.S_IFDIR | m&0o7777
		case m&syscall.S_IFMT == syscall.S_IFLNK || isSpecial(m):
			a.mode = m
		default:
			a.mode = syscall.S_IFREG | m&0o7777
		}
	}
	if isDevice(a.mode) {
		if v, ok := parseRdev(md[metaRdev]); ok {
			a.rdev = v
		}
	}
	if v, ok := parseID(md[metaUID]); ok {
		a.uid = v
	}
	if v, ok := parseID(md[metaGID]); ok {
		a.gid = v
	}
	a.mtime = info.ModTime
	if t, ok := parseTime(md[metaMtime]); ok {
		a.mtime = t
	}
	a.ctime, a.atime = a.mtime, a.mtime
	if t, ok := parseTime(md[metaCtime]); ok {
		a.ctime = t
	}
	if t, ok := parseTime(md[metaAtime]); ok {
		a.atime = t
	}
	return a
}

// fill writes a into a FUSE attribute record. nlink is 0 for a file that was unlinked.
func (a attrs) fill(out *fuse.Attr, nlink uint32) {
	out.Mode = a.mode
	out.Size = a.size
	out.Blocks = (a.size + 511) / 512
	out.Blksize = blockSize
	out.Nlink = nlink
	out.Owner = fuse.Owner{Uid: a.uid, Gid: a.gid}
	out.Rdev = a.rdev
	out.SetTimes(&a.atime, &a.mtime, &a.ctime)
}

// parseMode parses a stored mode: decimal as s3fs writes it, or octal when it starts with
// "0" (as people write modes by hand). Only type and permission bits are kept, and only
// the types a file system has: regular files, directories, symlinks, fifos, sockets and
// character and block devices.
func parseMode(s string) (uint32, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	base := 10
	if len(s) > 1 && s[0] == '0' {
		base = 8
	}
	v, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return 0, false
	}
	m := uint32(v) & (syscall.S_IFMT | 0o7777)
	switch m & syscall.S_IFMT {
	case 0, syscall.S_IFREG, syscall.S_IFDIR, syscall.S_IFLNK,
		syscall.S_IFIFO, syscall.S_IFSOCK, syscall.S_IFCHR, syscall.S_IFBLK:
		return m, true
	}
	return 0, false
}

// isDevice reports whether mode is a character or block device's.
func isDevice(mode uint32) bool {
	t := mode & syscall.S_IFMT
	return t == syscall.S_IFCHR || t == syscall.S_IFBLK
}

// isSpecial reports whether mode is a fifo's, socket's or device's: a file whose object
// holds no content, and that the kernel opens itself (pipe, socket or device driver).
func isSpecial(mode uint32) bool {
	t := mode & syscall.S_IFMT
	return t == syscall.S_IFIFO || t == syscall.S_IFSOCK || isDevice(mode)
}

// parseRdev parses a stored device number. s3fs writes glibc's 64-bit dev_t; FUSE carries
// the kernel's 32-bit encoding, which is the same number for majors below 4096 and minors
// below 2^20. A number that does not fit (a larger major) is refused, not truncated into
// another device.
func parseRdev(s string) (uint32, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	major, minor := unix.Major(v), unix.Minor(v)
	if major >= 1<<12 || minor >= 1<<20 {
		return 0, false
	}
	return uint32(unix.Mkdev(major, minor)), true
}

// parseID parses a stored uid or gid.
func parseID(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err == nil
}

// parseTime parses a stored time: seconds since the epoch, with an optional fraction
// ("1700000000", "1700000000.5", "1700000000.123456789", as s3fs and rclone write them), or
// RFC 3339.
func parseTime(s string) (time.Time, bool) {
	if s == "" || len(s) > 40 {
		return time.Time{}, false
	}
	secs, frac, hasFrac := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	}
	var nsec int64
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return time.Time{}, false
		}
		n, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, false
		}
		nsec = int64(n)
		for i := len(frac); i < 9; i++ {
			nsec *= 10
		}
	}
	// Bound the seconds so that the time fits time.Time's and the kernel's ranges.
	if sec < -(1<<40) || sec > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec), true
}

// formatTime formats a time as parseTime reads it: whole seconds, or seconds and nanoseconds.
func formatTime(t time.Time) string {
	sec, nsec := t.Unix(), t.Nanosecond()
	if nsec == 0 {
		return strconv.FormatInt(sec, 10)
	}
	return strconv.FormatInt(sec, 10) + "." + strconv.FormatInt(int64(1e9+nsec), 10)[1:]
}

// contentType guesses the content type of a file from its name's extension, so that S3
// clients see what they would have sent.
func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// putPosix writes the mode and owner of a into md and, with times, its times too.
func putPosix(md map[string]string, a attrs, times bool) {
	md[metaMode] = strconv.FormatUint(uint64(a.mode), 10)
	md[metaUID] = strconv.FormatUint(uint64(a.uid), 10)
	md[metaGID] = strconv.FormatUint(uint64(a.gid), 10)
	if isDevice(a.mode) {
		md[metaRdev] = strconv.FormatUint(uint64(a.rdev), 10)
	}
	if times {
		md[metaMtime] = formatTime(a.mtime)
		md[metaAtime] = formatTime(a.atime)
		md[metaCtime] = formatTime(a.ctime)
	}
}

// applySetattr applies the mode, owner and time changes of in to a; ctime becomes now.
// It reports which times were set explicitly.
func applySetattr(a *attrs, in *fuse.SetAttrIn, now time.Time) (mtimeSet, atimeSet bool) {
	if m, ok := in.GetMode(); ok {
		a.mode = a.mode&syscall.S_IFMT | m&0o7777
	}
	if v, ok := in.GetUID(); ok {
		a.uid = v
	}
	if v, ok := in.GetGID(); ok {
		a.gid = v
	}
	// Mounted with CAP_HANDLE_KILLPRIV_V2, the kernel leaves the set-id bits to the file
	// system: a chown of anything but a directory drops them, whoever calls (as Linux's
	// chown does), and so does FATTR_KILL_SUIDGID (a truncate, or through killPrivFS a
	// write or an O_TRUNC open, by a caller without CAP_FSETID).
	_, modeSet := in.GetMode()
	_, uidSet := in.GetUID()
	_, gidSet := in.GetGID()
	chown := !modeSet && (uidSet || gidSet) && a.mode&syscall.S_IFMT != syscall.S_IFDIR
	if chown || in.Valid&fuse.FATTR_KILL_SUIDGID != 0 {
		a.mode = dropSetID(a.mode)
	}
	if t, ok := in.GetMTime(); ok {
		a.mtime, mtimeSet = t, true
	}
	if t, ok := in.GetATime(); ok {
		a.atime, atimeSet = t, true
	}
	a.ctime = now
	return mtimeSet, atimeSet
}

// dropSetID returns mode without its set-user-id bit, and without its set-group-id bit when
// group execute is set (without it, set-group-id means mandatory locking, and stays).
func dropSetID(mode uint32) uint32 {
	mode &^= syscall.S_ISUID
	if mode&syscall.S_IXGRP != 0 {
		mode &^= syscall.S_ISGID
	}
	return mode
}
