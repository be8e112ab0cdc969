package local

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// A drive's redo log (Options.RedoLog, issue 11) makes a small object's durable commit one
// write to a file whose blocks are already allocated and written, and one fdatasync, where
// the plain commit writes a new metadata file, waits for it, renames it and commits the
// file system's journal (two or three device round trips more). The metadata file then
// waits in the log's backlog (backlog.go), which ReadMeta reads first, until something
// needs it in the tree (a walk or listing of its directory, another change of the path, a
// checkpoint) or the drive has been idle a second; it is written there without any sync,
// and the log only has to redo it after a crash.
//
// The file (redoLogFile in the system volume) is a header block and records, each a
// multiple of redoBlock long:
//
//	header, offset 0:  magic | version | generation | nonce | crc32c of the 28 bytes before
//	record, after it:  magic | version | generation | nonce | sequence | path length |
//	                   data length | removed path's length (versions 2, 3) |
//	                   crc32c of the 44 bytes before | crc32c of the rest |
//	                   path (the metadata file's, relative to the drive's root) | data |
//	                   removed path (versions 2, 3)
//
// A record is a put (a small object's commit), a rename (RenameObject: the destination's
// metadata file is the source's bytes, and the source is removed, in one record) or a
// removal (DeleteObject); or the write (WriteFile) or removal (Delete) of one of the
// journal's intent records in the system volume, which then costs the log's shared
// fdatasync instead of a synced file, and whose removal a crash can no longer undo.
// redoformat.go has the versions and what an older binary makes of them.
//
// Only the records of the header's generation and nonce count; a new nonce (random) comes
// with each generation, so neither an older generation's records nor object bytes that
// imitate a record (a record's data is an object's inline data) are ever taken for one.
// Records are redone in sequence order, the last one of a path only; a torn one (a crash
// during its write, never acknowledged) fails its checksums and is skipped. A removal
// removes the file if it is there, and the directories that leaves empty, as the live
// path does.
//
// A checkpoint ends a generation: once every logged commit has put its metadata file in
// the backlog, the backlog is written into the tree, syncfs makes the tree durable, and a
// new header (the next generation, a new nonce) is written and synced. It runs when the log is full, at SyncFileSystem, and before any other
// durable change of a path the generation holds a record for (settle): a commit of a
// large object over a small one, a delete or rename that is not logged (a metadata file
// too large for a record), a bucket's removal, whose effect a redo of the older record
// after a crash would undo. At Open, the records of the header's generation are redone,
// then the tree is synced and a new generation starts.
const (
	redoLogFile = "redo.log"
	redoBlock   = 4096
	// DefaultRedoLogSize is the log's size when Options.RedoLogSize is zero: room for
	// 16,383 small commits between two checkpoints.
	DefaultRedoLogSize = 64 << 20

	redoHeaderMagic = 0x46535244 // "FSRD"
	redoRecordMagic = 0x46535252 // "FSRR"
	redoVersion     = 1
	redoHeaderLen   = 28 + 4
	// redoFillChunk is how much of the log is written with zeros at a time, ahead of the
	// records (fillLocked).
	redoFillChunk   = 1 << 20
	redoRecordFixed = 44 + 4 + 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	// errRedoTooLarge: the record does not fit in an empty log; the commit takes the
	// plain path.
	errRedoTooLarge = errors.New("local: record larger than the redo log")
	errRedoClosed   = fmt.Errorf("%w: the drive's redo log is closed", storage.ErrDriveOffline)
)

// redoLog is one drive's log. Its methods are safe for concurrent use.
type redoLog struct {
	fd   int
	path string
	size int64

	mu   sync.Mutex
	cond sync.Cond // L is &mu: pending, checkpointing and sync rounds changed

	gen, nonce uint64 // GUARDED_BY(mu): the generation records are written in
	seq        uint64 // GUARDED_BY(mu): the last sequence number handed out
	off        int64  // GUARDED_BY(mu): where the next record goes
	filled     int64  // GUARDED_BY(mu): the file's first filled bytes are written and synced (fillLocked)
	// dirty holds the paths (relative to the drive's root) with a record in this
	// generation; true when one of them is a put (versions 1 and 3), which a binary from
	// before version 2 would redo if it is of version 1 (redoformat.go). GUARDED_BY(mu)
	dirty map[string]bool
	// pending counts the commits that reserved a record and have not yet made their
	// change (in the tree, or the backlog) or failed; a checkpoint waits for none.
	// GUARDED_BY(mu)
	pending       int
	checkpointing bool // GUARDED_BY(mu)
	closed        bool // GUARDED_BY(mu): close was called; fd is closed once nothing uses it
	// fdatasyncs shares the log's fdatasync among the commits waiting for one: a commit's
	// record is durable once a fdatasync that began after its write has returned (sync).
	fdatasyncs sharedCall
	// failed is the first failed sync or checkpoint: after it nothing the log holds can be
	// trusted to be on the disk, and every commit fails. GUARDED_BY(mu)
	failed error
	// group shares this log's syncs with the other drives of its file system (redoGroup);
	// nil: the log syncs on its own. Set by redoGroup.join before the log is used.
	group *redoGroup
	// fsSync shares the file system's syncfs with the other drives on it (nil: its own).
	// Set by Open before the log is used.
	fsSync *sharedSyncfs
	// backlog holds the small objects' metadata files the log made durable and the tree
	// does not hold yet (backlog.go); writeTree writes one into the tree, without syncs.
	// Set by Open before the log is used.
	backlog   backlog
	writeTree func(rel string, data []byte) error
}

// openRedoLog opens the drive's redo log (creating it, size bytes, if missing), redoes the
// records of its current generation with redo, syncs the drive's file system and starts a
// new generation.
func openRedoLog(root string, size int64, redo func(redoRecord) error) (*redoLog, error) {
	if size <= 0 {
		size = DefaultRedoLogSize
	}
	size = (size + redoBlock - 1) &^ (redoBlock - 1)
	if size < 2*redoBlock {
		size = 2 * redoBlock
	}
	p := filepath.Join(root, storage.SysVolume, redoLogFile)
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, mapErr(&fs.PathError{Op: "open", Path: p, Err: err})
	}
	if err := lockRedoLog(fd, p); err != nil {
		unix.Close(fd)
		return nil, err
	}
	l := &redoLog{fd: fd, path: p, size: size, dirty: make(map[string]bool)}
	l.backlog.idleAfter = backlogIdle
	l.cond.L = &l.mu
	l.fdatasyncs.init(unix.Fdatasync)
	if err := l.start(root, redo); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return l, nil
}

// start redoes what the file holds and begins a new generation.
func (l *redoLog) start(root string, redo func(redoRecord) error) error {
	old, err := replayRedoLog(l.fd, l.path, redo)
	if err != nil {
		return err
	}
	switch have := int64(len(old)); {
	case have == 0:
		// A new log: its name must survive a crash before anything relies on it.
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			return mapErr(err)
		}
	case have > l.size: // made larger before; its records are redone
		if err := unix.Ftruncate(l.fd, l.size); err != nil {
			return mapErr(&fs.PathError{Op: "truncate", Path: l.path, Err: err})
		}
	}
	// The blocks the file has are not trusted to be written: a crash during a fill may
	// have left them unwritten extents, a copy made sparse (rsync -S, tar -S) holes. A
	// record written there would need a journal commit (the extent's conversion, the
	// block's allocation) that another log's fdatasync in the group's round does not make
	// (redoGroup). So l.filled starts at 0: the first generation writes every chunk with
	// zeros and syncs it once before records reach it, as it does for a new log.
	var gen uint64
	if h, ok := parseRedoHeader(old); ok {
		gen = h.gen
	}
	return l.newGeneration(gen + 1)
}

// lockRedoLog takes the log's exclusive lock, held as long as fd is open: two processes
// on one drive would each redo and restart the other's log (Open also clears the staging
// area another process writes in).
func lockRedoLog(fd int, path string) error {
	switch err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err {
	case nil:
		return nil
	case unix.EWOULDBLOCK:
		return fmt.Errorf("%s is locked: another process has this drive open", path)
	case unix.ENOLCK, unix.EOPNOTSUPP, unix.EINVAL:
		// A file system without locks (some network file systems): the log works, only
		// the guard against a second process is missing.
		return nil
	default:
		return mapErr(&fs.PathError{Op: "flock", Path: path, Err: err})
	}
}

// replayRedoLog redoes the records of the current generation in the log open at fd, then
// syncs the file system, and returns the log's content.
func replayRedoLog(fd int, path string, redo func(redoRecord) error) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, mapErr(&fs.PathError{Op: "stat", Path: path, Err: err})
	}
	b := make([]byte, st.Size)
	n, err := preadFull(fd, b, 0)
	if err != nil {
		return nil, mapErr(&fs.PathError{Op: "read", Path: path, Err: err})
	}
	b = b[:n]
	recs := parseRedoLog(b)
	for _, r := range recs {
		if err := redo(r); err != nil {
			return nil, fmt.Errorf("redo log %s: redoing %s: %w", path, r.path, err)
		}
	}
	if len(recs) > 0 {
		if err := unix.Syncfs(fd); err != nil {
			return nil, mapErr(&fs.PathError{Op: "syncfs", Path: path, Err: err})
		}
	}
	return b, nil
}

// dropRedoLog redoes a redo log left by a start with Options.RedoLog and removes it, for a
// drive opened without one: nothing the log acknowledged is lost when the option is
// turned off.
func dropRedoLog(root string, redo func(redoRecord) error) error {
	p := filepath.Join(root, storage.SysVolume, redoLogFile)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return mapErr(&fs.PathError{Op: "open", Path: p, Err: err})
	}
	defer unix.Close(fd)
	if err := lockRedoLog(fd, p); err != nil {
		return err
	}
	_, err = replayRedoLog(fd, p, redo)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return mapErr(err)
	}
	return mapErr(syncDir(filepath.Dir(p)))
}

// fillLocked writes zeros from l.filled up to at least end (redoFillChunk at a time, never
// past the log's size) and syncs them: a record written there later overwrites blocks
// already allocated and written, so that its fdatasync has no file system metadata to
// commit. The log grows this way as its first generation reaches new blocks, one journal
// commit per chunk, instead of being written whole when it is made.
func (l *redoLog) fillLocked(end int64) error {
	if end <= l.filled {
		return nil
	}
	to := min(max(end, l.filled+redoFillChunk), l.size)
	to = (to + redoBlock - 1) &^ (redoBlock - 1)
	zero := make([]byte, to-l.filled)
	if err := pwriteFull(l.fd, zero, l.filled); err != nil {
		return mapErr(&fs.PathError{Op: "write", Path: l.path, Err: err})
	}
	if err := unix.Fdatasync(l.fd); err != nil {
		return mapErr(&fs.PathError{Op: "fdatasync", Path: l.path, Err: err})
	}
	l.filled = to
	return nil
}

// newGeneration writes and syncs the header of generation gen, with a new nonce, and
// resets the log's state to it. The caller makes sure nothing appends meanwhile.
func (l *redoLog) newGeneration(gen uint64) error {
	var nb [8]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return fmt.Errorf("redo log: nonce: %w", err)
	}
	nonce := binary.LittleEndian.Uint64(nb[:])
	l.mu.Lock()
	err := l.fillLocked(redoBlock)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := pwriteFull(l.fd, encodeRedoHeader(gen, nonce), 0); err != nil {
		return mapErr(&fs.PathError{Op: "write", Path: l.path, Err: err})
	}
	if err := unix.Fdatasync(l.fd); err != nil {
		return mapErr(&fs.PathError{Op: "fdatasync", Path: l.path, Err: err})
	}
	l.mu.Lock()
	l.gen, l.nonce, l.seq, l.off = gen, nonce, 0, redoBlock
	clear(l.dirty)
	l.mu.Unlock()
	return nil
}

// fits reports whether a record of paths and data of these lengths fits in the log.
func (l *redoLog) fits(pathLen, dataLen int) bool {
	return redoRecordLen(pathLen, dataLen) <= l.size-redoBlock
}

// log makes e's record durable, then runs apply, given where the record's data is, which
// makes e's change in the tree without syncs or puts it in the backlog. Its error is
// apply's, or the log's; errRedoTooLarge when the record does not fit in the log, before
// anything is done. seat is the change's place in its
// commit batch (nil for none): it arrives between the record's write and its sync, so
// that the batch's other drives of the file system are written too and one round of the
// group (redoGroup) syncs all their records; it leaves before the log waits for a
// checkpoint, or makes one, since a checkpoint waits for the log's commits, which may
// wait in their own batches for this drive.
func (l *redoLog) log(e redoEntry, seat *batchSeat, apply func(redoAt) error) error {
	n := e.len()
	if !l.fits(len(e.path)+len(e.rm), len(e.data)) {
		return errRedoTooLarge
	}
	l.mu.Lock()
	if l.checkpointing {
		seat.leave()
	}
	for l.checkpointing {
		l.cond.Wait()
	}
	if err := l.unusableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	if e.rm != "" && e.path != "" && l.dirty[e.path] {
		// A binary from before version 2 would redo the put the generation holds for the
		// destination and skip the rename: the renamed object lost. A checkpoint retires
		// the put first.
		seat.leave()
		if err := l.checkpointLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	if l.off+n > l.size {
		seat.leave()
		if err := l.checkpointLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	if err := l.fillLocked(l.off + n); err != nil {
		l.mu.Unlock()
		return l.fail(err)
	}
	off := l.off
	l.off += n
	l.seq++
	at := redoAt{seq: l.seq, off: off + redoRecordFixed + int64(len(e.path))}
	rec := encodeRedoEntry(l.gen, l.nonce, l.seq, e, n)
	if e.path != "" {
		l.dirty[e.path] = l.dirty[e.path] || e.rm == ""
	}
	if _, ok := l.dirty[e.rm]; e.rm != "" && !ok {
		l.dirty[e.rm] = false
	}
	l.pending++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.pending--
		l.cond.Broadcast()
		l.mu.Unlock()
	}()

	if err := pwriteFull(l.fd, rec, off); err != nil {
		return l.fail(mapErr(&fs.PathError{Op: "write", Path: l.path, Err: err}))
	}
	if g := l.group; g != nil {
		seq := g.wrote()
		seat.arrive()
		if err := g.sync(l, seq); err != nil {
			return err
		}
		return apply(at)
	}
	seat.leave() // no shared sync to wait for the others at (ext4 with data=journal)
	if err := l.sync(); err != nil {
		return err
	}
	return apply(at)
}

// sync returns once a fdatasync of the log that began after the caller's write has
// returned: the first caller to find none running makes one for everybody waiting
// (sharedCall). A failed fdatasync fails the log.
func (l *redoLog) sync() error {
	if err := l.fdatasyncs.do(l.fd, nil); err != nil {
		// A later fdatasync could succeed without the lost writes: the log is done.
		return l.fail(mapErr(&fs.PathError{Op: "fdatasync", Path: l.path, Err: err}))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// unusableLocked returns why the log takes no more commits, if it does not.
func (l *redoLog) unusableLocked() error {
	if l.closed {
		return errRedoClosed
	}
	return l.failed
}

// fail records err as the log's failure and returns it.
func (l *redoLog) fail(err error) error {
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.mu.Unlock()
	return err
}

// syncTree makes everything written to the drive's file system before the call durable:
// a checkpoint when the generation holds records, else a syncfs alone. arrive is the
// caller's arrival in its batch, just before the syncfs (sharedSyncfs.sync).
func (l *redoLog) syncTree(arrive func()) error {
	l.mu.Lock()
	if err := l.unusableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	if l.seq > 0 || l.checkpointing {
		defer l.mu.Unlock()
		return l.checkpointArriving(arrive)
	}
	// No record to retire: commits go on while the file system syncs. pending keeps
	// close from closing the descriptor meanwhile.
	l.pending++
	l.mu.Unlock()
	err := l.fsSync.sync(l.fd, arrive)
	l.mu.Lock()
	l.pending--
	l.cond.Broadcast()
	l.mu.Unlock()
	if err != nil {
		return mapErr(&fs.PathError{Op: "syncfs", Path: l.path, Err: err})
	}
	return nil
}

// settle checkpoints if the generation holds a record for rel or, with under, for a path
// in the directory rel: before a durable change of it that is not a logged commit.
func (l *redoLog) settle(rel string, under bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.holdsLocked(rel, under) {
		return nil
	}
	return l.checkpointLocked()
}

// holds reports whether the generation holds a record for rel.
func (l *redoLog) holds(rel string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holdsLocked(rel, false)
}

func (l *redoLog) holdsLocked(rel string, under bool) bool {
	if _, ok := l.dirty[rel]; ok || !under {
		return ok
	}
	prefix := strings.TrimSuffix(rel, "/") + "/"
	for p := range l.dirty {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// checkpointLocked is checkpoint with l.mu held; it releases it while it waits and syncs.
func (l *redoLog) checkpointLocked() error { return l.checkpointArriving(nil) }

// checkpointArriving is checkpointLocked with arrive (nil: none) called just before its
// syncfs: the caller's arrival in its batch (sharedSyncfs.sync).
func (l *redoLog) checkpointArriving(arrive func()) error {
	for l.checkpointing {
		l.cond.Wait()
	}
	if err := l.unusableLocked(); err != nil {
		return err
	}
	l.checkpointing = true
	for l.pending > 0 {
		l.cond.Wait()
	}
	gen := l.gen
	l.mu.Unlock()
	// The backlog's files first: the syncfs makes the tree durable with them. A failed
	// write leaves the log as it is (its records durable, the generation open) and fails
	// only this checkpoint.
	err := l.writeUnder("")
	var syncErr error
	if err == nil {
		syncErr = l.syncAndRenew(gen, arrive)
		err = syncErr
	}
	l.mu.Lock()
	if syncErr != nil && l.failed == nil {
		l.failed = syncErr
	}
	l.checkpointing = false
	l.cond.Broadcast()
	return err
}

// syncAndRenew syncs the file system (arrive, if not nil, called just before: the caller's
// arrival in its batch) and starts generation gen+1: what a checkpoint does once the tree
// holds every record of generation gen.
func (l *redoLog) syncAndRenew(gen uint64, arrive func()) error {
	if err := l.fsSync.sync(l.fd, arrive); err != nil {
		return mapErr(&fs.PathError{Op: "syncfs", Path: l.path, Err: err})
	}
	return l.newGeneration(gen + 1)
}

// close closes the log once no commit, sync or checkpoint uses it; commits fail after it.
// A log holding records is checkpointed first, so that a clean stop leaves nothing to
// redo (a flashstor without the log can then open the drive). Its lock goes with its
// descriptor.
func (l *redoLog) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for l.pending > 0 || l.checkpointing {
		l.cond.Wait()
	}
	pending, gen, failed := l.seq > 0, l.gen, l.failed
	l.mu.Unlock()
	var err error
	if pending && failed == nil {
		// Nothing else uses the log now (closed, idle).
		if err = l.writeUnder(""); err == nil {
			err = l.syncAndRenew(gen, nil)
		}
	}
	// What the backlog still holds (a failed log's, a failed write's) is redone at the
	// next Open; no read may use the descriptor after it closes.
	l.backlog.clear()
	if l.group != nil {
		// A round of the group may be writing this log out: it must end first.
		l.group.leave(l)
	}
	if cerr := unix.Close(l.fd); err == nil {
		err = cerr
	}
	return err
}
