package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// redoGroup shares the redo logs' syncs among the drives of one file system (a commit
// group: ext4 with a journal, one block device). A log's fdatasync is a write of its
// record and a flush of the device's cache; four drives' logs synced one by one cost four
// flushes for one object's commit, where one covers them all: the device's cache holds
// every write completed before a flush, whichever file it was for. A round therefore
// writes out the records of every log of the group (sync_file_range, which waits for the
// writes but flushes nothing), then calls fdatasync on one log, whose flush makes them all
// durable. A record overwrites blocks already allocated and written (fillLocked), so no
// file system metadata needs a journal commit for it to be found after a crash. Measured on
// this project's machine (4 logs on a loop-mounted journaled ext4): 0.83-0.88 ms a round
// against 1.39-1.40 ms for four fdatasyncs at once.
//
// A commit's record is durable once a round that began after its write has ended: each
// write takes a sequence number, and a round covers the writes numbered before it began.
type redoGroup struct {
	mu   sync.Mutex
	cond sync.Cond // L is &mu: a round ended, or a member left
	// logs are the members. GUARDED_BY(mu)
	logs []*redoLog
	// written numbers the records written so far; covered is the last one a finished
	// round made durable. GUARDED_BY(mu)
	written, covered uint64
	// syncing is set while a round runs; a member leaves only between rounds, so that a
	// round never uses a closed descriptor. GUARDED_BY(mu)
	syncing bool
	// rounds counts the rounds run, for tests.
	rounds uint64 // GUARDED_BY(mu)

	// fdatasync and syncFileRange are the system calls (replaced by tests that make one
	// fail).
	fdatasync     func(fd int) error
	syncFileRange func(fd int, flags int) error
}

func newRedoGroup() *redoGroup {
	g := &redoGroup{
		fdatasync:     unix.Fdatasync,
		syncFileRange: func(fd, flags int) error { return unix.SyncFileRange(fd, 0, 0, flags) },
	}
	g.cond.L = &g.mu
	return g
}

// join makes l a member: its syncs are the group's rounds from now on.
func (g *redoGroup) join(l *redoLog) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.logs = append(g.logs, l)
	l.group = g
}

// leave removes l once no round runs, before its descriptor is closed.
func (g *redoGroup) leave(l *redoLog) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.syncing {
		g.cond.Wait()
	}
	g.logs = slices.DeleteFunc(g.logs, func(m *redoLog) bool { return m == l })
}

// wrote records that a record was written to a member's log and returns its number, for
// sync.
func (g *redoGroup) wrote() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.written++
	return g.written
}

// sync returns once a round that began after write number seq (wrote) has ended: the
// first caller to find none running leads one for every member. Its error is l's failure,
// if l's log failed.
func (g *redoGroup) sync(l *redoLog, seq uint64) error {
	g.mu.Lock()
	for g.covered < seq {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		g.rounds++
		upto, logs := g.written, slices.Clone(g.logs)
		g.mu.Unlock()
		g.round(l, logs)
		g.mu.Lock()
		g.syncing = false
		g.covered = upto
		g.cond.Broadcast()
	}
	g.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// round makes every record written to the members before it durable: their writes are
// started, then waited for, then the leader's fdatasync flushes the device. A member whose
// writes fail has failed; when the leader's fdatasync fails, each other member syncs on
// its own, so that one log's error fails no other.
func (g *redoGroup) round(leader *redoLog, logs []*redoLog) {
	// Every log's writes are started at once, the leader's too, and waited for below
	// (the leader's by its fdatasync): they overlap.
	g.syncFileRange(leader.fd, unix.SYNC_FILE_RANGE_WRITE)
	others := slices.DeleteFunc(logs, func(m *redoLog) bool { return m == leader })
	for _, m := range others {
		g.syncFileRange(m.fd, unix.SYNC_FILE_RANGE_WRITE)
	}
	for i, m := range others {
		err := g.syncFileRange(m.fd, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		if err != nil {
			m.fail(mapErr(&fs.PathError{Op: "sync_file_range", Path: m.path, Err: err}))
			others[i] = nil
		}
	}
	err := g.fdatasync(leader.fd)
	if err == nil {
		return
	}
	// A later fdatasync could succeed without the lost writes: the leader's log is done.
	leader.fail(mapErr(&fs.PathError{Op: "fdatasync", Path: leader.path, Err: err}))
	for _, m := range others {
		if m == nil {
			continue
		}
		if err := g.fdatasync(m.fd); err != nil {
			m.fail(mapErr(&fs.PathError{Op: "fdatasync", Path: m.path, Err: err}))
		}
	}
}

// journalsData reports whether the ext4 file system on device dev journals file data:
// mounted with data=journal, or made so by its default mount options (tune2fs -o
// journal_data), which /proc/self/mountinfo does not show. /proc/fs/ext4/<device>/options
// lists the options in force. True when that cannot be read, the safe answer.
func journalsData(dev uint64) bool {
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return true
	}
	b, err := os.ReadFile("/proc/fs/ext4/" + filepath.Base(link) + "/options")
	if err != nil {
		return true
	}
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "data=journal" {
			return true
		}
	}
	return false
}

// fsJournalDataFL is ext4's per-file data journaling flag (chattr +j; FS_JOURNAL_DATA_FL
// in linux/fs.h), inherited from the directory a file is made in.
const fsJournalDataFL = 0x00004000

// journalsFileData reports whether the file open at fd carries the per-file data journaling
// flag; true when the flags cannot be read.
func journalsFileData(fd int) bool {
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	return err != nil || flags&fsJournalDataFL != 0
}
