// Package storage defines the interface between the object core and one drive: the
// "vtable" every drive implements, whether it is a local directory (package local), a drive
// on another node reached over HTTP, or a decorator that adds health checks or injects faults.
//
// A drive holds volumes: the system volume (SysVolume) for the drive's own records and
// staging areas, and one volume per bucket. Inside a volume, paths are clean, relative,
// '/'-separated; a drive refuses any other path with ErrInvalidPath, so that no caller can
// reach outside it. Objects are addressed by bucket and key; the drive maps keys to paths
// itself (package layout).
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// SysVolume is the volume that holds a drive's format record, its staging area (under
// "tmp/") and multipart uploads in progress (under "multipart/"). It is on the same file
// system as the buckets, so that staged files can be renamed into place.
const SysVolume = ".flashstor.sys"

// JournalDir is the directory of SysVolume that holds the object core's intent records
// (package journal), one file per record, named by 32 hex digits, written with WriteFile
// and removed with Delete. A drive may make those two durable its own way (package local
// logs them in its redo log), so the name is part of the contract between the two.
const JournalDir = "journal"

// Errors a drive returns. Implementations wrap them with context; callers test with errors.Is.
var (
	ErrUnformatted    = errors.New("drive is not formatted")
	ErrDriveOffline   = errors.New("drive is offline")
	ErrDriveFull      = errors.New("drive is full")
	ErrFaulty         = errors.New("drive I/O error")
	ErrTimeout        = errors.New("drive did not answer in time")
	ErrInvalidPath    = errors.New("invalid path")
	ErrVolumeNotFound = errors.New("volume not found")
	ErrVolumeExists   = errors.New("volume exists")
	ErrVolumeNotEmpty = errors.New("volume not empty")
	ErrFileNotFound   = errors.New("file not found")
	ErrFileCorrupt    = errors.New("file corrupt")
	ErrShortWrite     = errors.New("fewer bytes than announced")
	ErrLongWrite      = errors.New("more bytes than announced")
)

// IsDriveFault reports whether err means the drive itself is failing (as opposed to an
// answer about the data, such as "not found"). Health tracking counts only these.
func IsDriveFault(err error) bool {
	return errors.Is(err, ErrFaulty) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrDriveOffline)
}

// DiskInfo describes a drive's capacity and state.
type DiskInfo struct {
	Endpoint string
	// Total, Free and Used are bytes of the file system the drive lives on.
	Total, Free, Used uint64
	// Files and FreeFiles are the file system's inodes.
	Files, FreeFiles uint64
	Online           bool
}

// File is an open file of a drive, read at any offset.
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the file's length when it was opened.
	Size() int64
}

// BlockReaderAt is an optional capability of a File: it reads len(sum) bytes at off into
// sum and the len(data) bytes after them into data in one call (one vectored read on a
// local drive), so that the erasure decoder reads a block's checksum and its bytes each
// where it belongs, the bytes straight into the reader's buffer. n counts both; a short
// count comes with an error (io.EOF at the end of the file). After an error wrapping
// ErrTimeout the read may still be going on and write into sum and data: the caller must
// not use their memory again.
type BlockReaderAt interface {
	ReadBlockAt(sum, data []byte, off int64) (n int, err error)
}

// ReadBlock reads a block through f as BlockReaderAt does: with one ReadBlockAt when f has
// it, else with two ReadAt calls.
func ReadBlock(f io.ReaderAt, sum, data []byte, off int64) (int, error) {
	if br, ok := f.(BlockReaderAt); ok {
		return br.ReadBlockAt(sum, data, off)
	}
	n, err := f.ReadAt(sum, off)
	if n < len(sum) || (err != nil && err != io.EOF) {
		return n, err
	}
	m, err := f.ReadAt(data, off+int64(len(sum)))
	return n + m, err
}

// WalkOptions select what Walk reports.
type WalkOptions struct {
	// Prefix limits the walk to keys that start with it.
	Prefix string
	// StartAfter skips keys up to and including it.
	StartAfter string
	// Recursive walks the whole tree below Prefix. When false, the walk reports the keys in
	// the directory Prefix ends in and, for each subdirectory, one entry with IsPrefix set
	// (a common prefix for delimiter "/"), without descending.
	Recursive bool
	// WithMeta reads each object's metadata header (not its inline data) into Entry.Meta.
	WithMeta bool
}

// Entry is one object, or one common prefix, found by Walk.
type Entry struct {
	// Key is the object key, or the common prefix ending in "/" when IsPrefix.
	Key      string
	IsPrefix bool
	// Meta holds the object's metadata header when WithMeta was asked for and it could be
	// read; MetaErr says why it could not.
	Meta    []byte
	MetaErr error
}

// Drive is one drive. Every method is safe for concurrent use; callers serialise
// operations on the same object key (the object core's namespace locks).
type Drive interface {
	// String names the drive (its path or URL) in messages and metrics.
	String() string
	// DiskInfo reports capacity. It is also the cheap health probe.
	DiskInfo(ctx context.Context) (DiskInfo, error)

	// ReadFormat returns the drive's format record, ErrUnformatted if it has none.
	ReadFormat(ctx context.Context) ([]byte, error)
	// WriteFormat replaces the format record atomically and durably.
	WriteFormat(ctx context.Context, format []byte) error

	// MakeVolume creates a bucket's volume: ErrVolumeExists if it exists.
	MakeVolume(ctx context.Context, volume string) error
	// StatVolume returns the volume's creation time: ErrVolumeNotFound if it does not exist.
	StatVolume(ctx context.Context, volume string) (created time.Time, err error)
	// ListVolumes returns the names of the buckets' volumes, not the system volume's.
	ListVolumes(ctx context.Context) ([]string, error)
	// DeleteVolume removes a bucket's volume: ErrVolumeNotEmpty if it holds an object and
	// force is false. With force, everything in it goes.
	DeleteVolume(ctx context.Context, volume string, force bool) error

	// CreateFile writes r to a new file at path, creating its parent directories, and
	// syncs it to stable storage before returning (a local drive skips the sync under
	// WithDeferredSync, as it does CommitObject's, and may leave it to the CommitObject that
	// names the file under WithSyncAtCommit). size is the number of bytes r holds, or -1
	// if unknown: a different count is ErrShortWrite or ErrLongWrite. An error from r aborts
	// the write and is returned wrapped; the partial file is removed.
	CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error
	// OpenFile opens a file for reading: ErrFileNotFound if it does not exist.
	OpenFile(ctx context.Context, volume, path string) (File, error)
	// ReadFile returns a whole (small) file: ErrFileNotFound if it does not exist.
	ReadFile(ctx context.Context, volume, path string) ([]byte, error)
	// WriteFile replaces a (small) file atomically and durably, creating parent directories.
	WriteFile(ctx context.Context, volume, path string, data []byte) error
	// RenameFile moves a file or directory, replacing the destination (a directory
	// destination must be empty or absent), creating its parent directories, durably.
	RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error
	// Delete removes a file, or a directory and everything in it when recursive; then the
	// parents it leaves empty, up to the volume. A missing path is ErrFileNotFound.
	Delete(ctx context.Context, volume, path string, recursive bool) error
	// ListDir returns the names in a directory, directories with a trailing "/":
	// ErrFileNotFound if it does not exist.
	ListDir(ctx context.Context, volume, dir string) ([]string, error)

	// ReadMeta returns an object's metadata file, inline data included:
	// ErrFileNotFound if this drive has no such object, ErrVolumeNotFound if no such bucket.
	ReadMeta(ctx context.Context, bucket, key string) ([]byte, error)
	// CommitObject makes a new version of an object visible, atomically: the staged data
	// directory srcDir of srcVolume (if srcDir is not "") becomes the data directory that
	// meta names, then meta replaces the object's metadata file. A crash at any point leaves
	// the previous version or the new one, complete. With srcDir "" it is a metadata-only
	// update (or the commit of an object whose data is inline).
	//
	// No object operation of a drive removes a data directory: the previous version's stays
	// until the caller deletes it (Delete of layout.DataDirPath), so that a caller that fails
	// to reach its write quorum can restore the previous metadata, and so that readers of the
	// previous version can finish.
	CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error
	// DeleteObject removes an object's metadata and the directories it leaves empty (not its
	// data directory): ErrFileNotFound if this drive has no such object.
	DeleteObject(ctx context.Context, bucket, key string) error
	// RenameObject moves an object to another key of the same bucket, atomically on this
	// drive and without touching its data, replacing the metadata of any object at dstKey
	// (not its data directory): ErrFileNotFound if this drive has no object at srcKey.
	RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error
	// Walk calls fn for the objects (and common prefixes, when not recursive) of a bucket
	// in ascending key order, as opts selects. An error from fn stops the walk and is
	// returned. ErrVolumeNotFound if no such bucket.
	Walk(ctx context.Context, bucket string, opts WalkOptions, fn func(Entry) error) error
}
