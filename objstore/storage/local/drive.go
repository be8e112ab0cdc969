// Package local is the drive of a local directory: the storage.Drive that keeps volumes as
// directories, stages every write in the drive's own tmp area and makes it visible by
// rename, syncing files and directories so that what it acknowledges survives a crash.
package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Directories of the system volume.
const (
	tmpDir       = "tmp"
	trashDir     = "trash"
	formatFile   = "format.json"
	sysDirPerm   = 0o700
	dataDirPerm  = 0o755
	dataFilePerm = 0o644
)

// Options tune a local drive. The zero value is a plain drive; the server adds Commits and
// RedoLog.
type Options struct {
	// Failpoint, when set, is called with the name of each step of the commit path (and
	// "rename:object" before an object's rename, "rename:logged" and "write:logged"
	// between a logged rename's or journal record's log record and its change in the tree)
	// before that step runs; an error stops the operation there, as a crash would. Tests
	// use it to prove that a write interrupted at any step leaves the old object or the
	// new one.
	Failpoint func(step string) error
	// Commits, when set, is shared by the drives of a deployment: those on one file system
	// share the journal commits of their metadata writes (CommitGroups).
	Commits *CommitGroups
	// RedoLog makes every durable commit of a small object (no data directory) a record
	// in the drive's redo log (redolog.go): one write and one fdatasync instead of a synced
	// metadata file and a journal commit. RedoLogSize is the log's size
	// (DefaultRedoLogSize when zero). The server turns it on (--drive-redo-log); a drive
	// without room for the log runs without one.
	RedoLog     bool
	RedoLogSize int64
}

// Drive is a local directory used as a drive.
type Drive struct {
	root  string
	opts  Options
	cache dirCache
	// pathBufs recycles the buffers ReadMeta builds paths in (*[]byte).
	pathBufs sync.Pool
	// oneCommit is set when the drive's file system makes a metadata file durable, name
	// and all, with one journal commit (oneCommitFS); fixed at Open.
	oneCommit bool
	// group is the commit group of the drive's file system (Options.Commits), nil when the
	// drive shares none or does not use the one-commit write; fixed at Open.
	group *commitGroup
	// batchWait bounds a commit batch's wait for the other drives of its file system
	// (groupWait; longer in tests, where the machine's load must not decide the outcome).
	batchWait time.Duration
	// batchExpired counts the commit batch arrivals that waited the whole batchWait for
	// the other drives (a drive that never arrived nor left), for tests.
	batchExpired atomic.Int64
	// fsSyncs counts SyncFileSystem's calls (tests check that fsync reaches the disk).
	fsSyncs atomic.Int64
	// fsSync shares the syncfs calls of the drives of the file system (its commit group's);
	// nil: the drive makes its own.
	fsSync *sharedSyncfs
	// redo is the drive's redo log (Options.RedoLog), nil without one.
	redo *redoLog
}

var (
	_ storage.Drive            = (*Drive)(nil)
	_ storage.FileSystemSyncer = (*Drive)(nil)
)

// RecreatedDirs returns the folders of the system volume that Open removes and creates anew
// at every start: a process that drops privileges after opening its drives must hand them
// to the user it runs as, even when the rest of the drive is that user's already.
func RecreatedDirs() []string { return []string{tmpDir, trashDir} }

// Open returns the drive rooted at dir, creating dir and its system volume if needed, and
// clearing what a crash may have left in its staging and trash areas.
func Open(dir string, opts Options) (*Drive, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("drive %s: %w", dir, err)
	}
	d := &Drive{root: abs, opts: opts}
	for _, sub := range RecreatedDirs() {
		p := filepath.Join(abs, storage.SysVolume, sub)
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("drive %s: clearing %s: %w", abs, sub, mapErr(err))
		}
		if err := os.MkdirAll(p, sysDirPerm); err != nil {
			return nil, fmt.Errorf("drive %s: %w", abs, mapErr(err))
		}
	}
	d.oneCommit = oneCommitFS(abs)
	var st unix.Stat_t
	if d.oneCommit && opts.Commits != nil && unix.Stat(abs, &st) == nil {
		d.group = opts.Commits.group(st.Dev)
		d.batchWait = groupWait
		d.fsSync = d.group.syncs
	}
	if opts.RedoLog {
		d.redo, err = openRedoLog(abs, opts.RedoLogSize, d.redoRecord)
		if errors.Is(err, storage.ErrDriveFull) {
			// No room for the log (it grows as it fills): the drive runs without one rather
			// than not at all. What a log left behind held is redone and the log removed, so
			// that it is never redone over the writes made without it.
			err = dropRedoLog(abs, d.redoRecord)
		}
	} else {
		err = dropRedoLog(abs, d.redoRecord)
	}
	if err != nil {
		return nil, fmt.Errorf("drive %s: %w", abs, err)
	}
	if d.redo != nil {
		d.redo.fsSync = d.fsSync
		d.redo.writeTree = d.writeLogged
	}
	if d.redo != nil && d.group != nil && d.group.logs != nil && !journalsFileData(d.redo.fd) {
		d.group.logs.join(d.redo)
	}
	return d, nil
}

// Close releases what the drive holds open (its redo log and the log's lock). Calls after
// it that would commit a small object durably fail.
func (d *Drive) Close() error {
	if d.redo == nil {
		return nil
	}
	return d.redo.close()
}

// redoRecord makes a redo log record's change in the tree, at Open, without syncs (the
// log syncs the file system after the last one): it writes the metadata file r.path (a
// path in a bucket), or removes it and the directories that leaves empty, as DeleteObject
// does; a journal record of the system volume is written or removed as WriteFile and
// Delete do. A record whose bucket is gone is dropped: the bucket's removal came after
// it; so is the removal of a file that is not there.
func (d *Drive) redoRecord(r redoRecord) error {
	bucket, _, _ := strings.Cut(r.path, "/")
	full, bucketDir := d.root+"/"+r.path, d.root+"/"+bucket
	if r.remove {
		switch err := unix.Unlink(full); err {
		case nil:
			removeEmptyParents(filepath.Dir(full), bucketDir)
		case unix.ENOENT, unix.ENOTDIR, unix.EISDIR: // not the file the record removed
		default:
			return mapErr(&fs.PathError{Op: "unlink", Path: full, Err: err})
		}
		return nil
	}
	if bucket == storage.SysVolume {
		return d.writeUnsynced(full, r.data)
	}
	err := d.writeLogged(r.path, r.data)
	if errors.Is(err, storage.ErrVolumeNotFound) {
		return nil
	}
	return err
}

// writeLogged writes the metadata file rel (a path in a bucket, relative to the drive's
// root) of a logged commit into the tree, without syncs: at a redo, or from the backlog.
func (d *Drive) writeLogged(rel string, data []byte) error {
	bucket, _, _ := strings.Cut(rel, "/")
	return d.writeMeta(d.tmpPath(), d.root+"/"+rel, d.root+"/"+bucket, data, false, nil)
}

// treePath is filePath for a method that reads or changes the tree at p: the redo log's
// backlog of metadata files there is written into it first (writeBacklogUnder).
func (d *Drive) treePath(volume, p string) (string, error) {
	full, err := d.filePath(volume, p)
	if err != nil {
		return "", err
	}
	if err := d.writeBacklogUnder(volume, p, full); err != nil {
		return "", err
	}
	return full, nil
}

// writeBacklogUnder writes the redo log's backlog of metadata files at or under full, the
// path p of volume, into the tree: before a read, a listing or a change of the tree there.
// The system volume and a bucket's data area hold no object's metadata file.
func (d *Drive) writeBacklogUnder(volume, p, full string) error {
	if d.redo == nil || volume == storage.SysVolume || p == layout.DataDir || strings.HasPrefix(p, layout.DataDir+"/") {
		return nil
	}
	return d.redo.writeUnder(d.relPath(full))
}

// settle makes the redo log's record for the path rel of volume, or with under for a path
// in the directory rel, durable in the tree before a durable change of it that is not a
// logged commit (redoLog.settle). In the system volume only the journal's records are
// ever logged (loggedSysPath): a change of their directory, or of a record too large for
// the log, settles too; any other path of it (a staged file of every put) costs nothing.
func (d *Drive) settle(volume, rel string, under bool) error {
	if d.redo == nil {
		return nil
	}
	if volume == storage.SysVolume && rel != "" && rel != storage.JournalDir &&
		!strings.HasPrefix(rel, storage.JournalDir+"/") {
		return nil
	}
	if rel != "" {
		rel = volume + "/" + rel
	} else {
		rel = volume
	}
	return d.redo.settle(rel, under)
}

// loggedSysPath returns the path relative to the drive's root of the file p of volume, and
// whether a write or removal of it is logged in the redo log: one of the journal's records
// (redoSysPathValid) on a drive with a log.
func (d *Drive) loggedSysPath(volume, p string) (string, bool) {
	if d.redo == nil || volume != storage.SysVolume {
		return "", false
	}
	rel := volume + "/" + p
	return rel, redoSysPathValid(rel)
}

// String returns the drive's directory.
func (d *Drive) String() string { return d.root }

// failpoint runs the test hook for step, if any.
func (d *Drive) failpoint(step string) error {
	if d.opts.Failpoint == nil {
		return nil
	}
	return d.opts.Failpoint(step)
}

// volumePath returns the directory of a volume, after checking its name.
func (d *Drive) volumePath(volume string) (string, error) {
	if volume != storage.SysVolume && layout.CheckBucketName(volume) != nil {
		return "", fmt.Errorf("%w: volume %q", storage.ErrInvalidPath, volume)
	}
	return d.root + "/" + volume, nil
}

// filePath returns the absolute path of p in volume, refusing any p that is not a clean
// relative path ("" is the volume itself), so that no caller can reach outside the volume.
func (d *Drive) filePath(volume, p string) (string, error) {
	vp, err := d.volumePath(volume)
	if err != nil {
		return "", err
	}
	if p == "" {
		return vp, nil
	}
	if !validPath(p) {
		return "", fmt.Errorf("%w: %q", storage.ErrInvalidPath, p)
	}
	return vp + "/" + p, nil
}

func validPath(p string) bool {
	if path.IsAbs(p) || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
		return false
	}
	for rest := p; ; {
		comp, tail, more := strings.Cut(rest, "/")
		if comp == ".." || comp == "." || len(comp) > layout.MaxNameLength {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// objectPath returns the absolute path of key's metadata file in bucket, built in one
// allocation.
func (d *Drive) objectPath(bucket, key string) (string, error) {
	b, err := d.appendObjectPath(make([]byte, 0, len(d.root)+len(bucket)+len(key)+16), bucket, key)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendObjectPath appends the absolute path of key's metadata file in bucket to dst.
func (d *Drive) appendObjectPath(dst []byte, bucket, key string) ([]byte, error) {
	if err := layout.CheckKey(key); err != nil {
		return nil, fmt.Errorf("%w: %w", storage.ErrInvalidPath, err)
	}
	if layout.CheckBucketName(bucket) != nil {
		return nil, fmt.Errorf("%w: volume %q", storage.ErrInvalidPath, bucket)
	}
	dst = append(dst, d.root...)
	dst = append(dst, '/')
	dst = append(dst, bucket...)
	dst = append(dst, '/')
	return layout.AppendObjectPath(dst, key), nil
}

// isStaging reports whether full is in the staging area.
func (d *Drive) isStaging(full string) bool {
	return strings.HasPrefix(full, d.root+"/"+storage.SysVolume+"/"+tmpDir+"/")
}

// tmpPath returns a new, unused path in the staging area.
func (d *Drive) tmpPath() string {
	return d.root + "/" + storage.SysVolume + "/" + tmpDir + "/" + newID()
}

// newID returns 32 random hex digits.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// mapErr turns an error from the os package into the storage error callers test for,
// keeping the original text.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var target error
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &errno) && errno == syscall.ENOTDIR:
		target = storage.ErrFileNotFound
	case errors.As(err, &errno) && (errno == syscall.ENOSPC || errno == syscall.EDQUOT):
		target = storage.ErrDriveFull
	case errors.As(err, &errno) && errno == syscall.ENAMETOOLONG:
		target = storage.ErrInvalidPath
	case errors.As(err, &errno) && isFaultErrno(errno):
		target = storage.ErrFaulty
	default:
		return err
	}
	return fmt.Errorf("%w: %w", target, err)
}

// isFaultErrno reports whether errno means that the drive itself is failing or unusable.
func isFaultErrno(errno syscall.Errno) bool {
	switch errno {
	case syscall.EIO, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EUCLEAN,
		syscall.ENXIO, syscall.ENODEV, syscall.ESTALE, syscall.ENOMEM:
		return true
	}
	return false
}
