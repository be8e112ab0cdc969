package local

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// ReadMeta returns an object's metadata file.
func (d *Drive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	// The path is built in a recycled buffer and handed to the kernel as it is: a GET reads
	// the metadata on every drive, and a path string would cost two allocations each.
	bp, _ := d.pathBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer d.pathBufs.Put(bp)
	p, err := d.appendObjectPath((*bp)[:0], bucket, key)
	if err != nil {
		return nil, err
	}
	if d.redo != nil {
		if b, ok, err := d.redo.read(p[len(d.root)+1:]); ok || err != nil {
			return b, err
		}
	}
	*bp = append(p, 0)
	b, err := readSmallFile(*bp)
	if err != nil {
		return nil, d.objectErr(bucket, err)
	}
	return b, nil
}

// objectErr maps an error met on an object's path: "not found" becomes ErrVolumeNotFound
// when it is the bucket that is missing.
func (d *Drive) objectErr(bucket string, err error) error {
	err = mapErr(err)
	if errors.Is(err, storage.ErrFileNotFound) {
		if _, serr := os.Stat(d.root + "/" + bucket); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s on %s", storage.ErrVolumeNotFound, bucket, d.root)
		}
	}
	return err
}

// bucketThere returns ErrVolumeNotFound if the bucket's volume is missing.
func (d *Drive) bucketThere(bucket string) error {
	if _, err := os.Stat(d.root + "/" + bucket); err != nil {
		return d.objectErr(bucket, err)
	}
	return nil
}

// hasDataDir reports whether an object's metadata names a data directory.
func hasDataDir(b []byte) bool {
	m, err := meta.UnmarshalHeader(b)
	return err == nil && m.DataDir != ([16]byte{})
}

// dataDirOf returns the absolute path of the data directory an object's metadata names.
func (d *Drive) dataDirOf(bucket string, b []byte) string {
	m, _ := meta.UnmarshalHeader(b)
	return d.root + "/" + bucket + "/" + layout.DataDirPath(hex.EncodeToString(m.DataDir[:]))
}

// CommitObject makes a new version of an object visible. The steps, each a failpoint:
// the staged data directory is renamed into the bucket's data area (invisible until the
// metadata names it); the metadata is staged and synced; it is renamed over the old one (the
// instant the new version becomes visible). Durable on a oneCommitFS drive under
// storage.WithSyncAtCommit, the metadata is staged first, then the data of the staged files
// and of the metadata is waited for, then both renames follow (writeMetaOneCommit).
func (d *Drive) CommitObject(ctx context.Context, bucket, key string, metaBytes []byte, srcVolume, srcDir string) error {
	seat := d.seat(ctx)
	defer seat.leave()
	metaPath, err := d.objectPath(bucket, key)
	if err != nil {
		return err
	}
	var newData string
	if srcDir != "" {
		// The data directory's rename would make a missing bucket again. An inline object
		// (no data) needs no check here: writeMeta checks the bucket only when the rename
		// finds no directory, which saves a system call per drive for every small object.
		if _, err := os.Stat(d.root + "/" + bucket); err != nil {
			return d.objectErr(bucket, err)
		}
		if !hasDataDir(metaBytes) {
			return fmt.Errorf("%w: commit of %s/%s: staged data but no data directory in metadata", storage.ErrInvalidPath, bucket, key)
		}
		newData = d.dataDirOf(bucket, metaBytes)
	}
	if err := d.commit(ctx, seat, bucket, metaPath, metaBytes, srcVolume, srcDir, newData); err != nil {
		return fmt.Errorf("commit %s/%s on %s: %w", bucket, key, d.root, err)
	}
	return nil
}

func (d *Drive) commit(ctx context.Context, seat *batchSeat, bucket, metaPath string, metaBytes []byte, srcVolume, srcDir, newData string) error {
	// Deferred, the same steps run in the same order without their syncs: a crash of the
	// process still finds the old version or the new one (the page cache keeps both renames
	// and the data), and SyncFileSystem makes them durable.
	durable := !storage.DeferredSync(ctx)
	rel := d.relPath(metaPath)
	if durable && d.redo != nil && (srcDir != "" || !d.redo.fits(len(rel), len(metaBytes))) {
		// Not logged: a record of the path in the redo log would undo it after a crash.
		// Its checkpoint waits for the log's commits, which may wait in their batches.
		if d.redo.holds(rel) {
			seat.leave()
		}
		if err := d.redo.settle(rel, false); err != nil {
			return err
		}
	}
	if !durable && d.redo != nil {
		// Written into the tree without a record: the backlog's older file of the path
		// must not be written over it later.
		if err := d.redo.writePath(rel); err != nil {
			return err
		}
	}
	// In a commit batch, the one-commit write's journal commit, or the redo log's round
	// (redoGroup), waits for the batch's other drives on this file system.
	var beforeSync func()
	if durable {
		beforeSync = seat.arrive
	}
	if srcDir != "" && durable && d.oneCommit && storage.SyncAtCommit(ctx) {
		// The staged files' data was only started by CreateFile (syncWithCommit): the
		// one-commit write waits for it with its metadata's, then renames both.
		src, err := d.filePath(srcVolume, srcDir)
		if err != nil {
			return err
		}
		if err := d.failpoint("commit:write-meta"); err != nil {
			return err
		}
		staged := &stagedData{src: src, dst: newData, staging: d.isStaging(src)}
		return d.writeMetaOneCommit(d.tmpPath(), metaPath, d.root+"/"+bucket, metaBytes, staged, beforeSync)
	}
	if srcDir != "" {
		src, err := d.filePath(srcVolume, srcDir)
		if err != nil {
			return err
		}
		if err := d.failpoint("commit:rename-data"); err != nil {
			return err
		}
		// On a oneCommitFS drive the rename needs no sync of its own: it is journaled
		// before the metadata's rename, and the metadata's one commit below makes both
		// durable, with the staged files' entries (their data was synced by CreateFile:
		// files staged under storage.WithSyncAtCommit are committed above).
		if err := d.rename(src, newData, d.isStaging(src), durable && !d.oneCommit); err != nil {
			return mapErr(err)
		}
	}
	if err := d.failpoint("commit:write-meta"); err != nil {
		return err
	}
	bucketDir := d.root + "/" + bucket
	if d.redo != nil && durable && srcDir == "" {
		// A small object: logged; its metadata file waits in the backlog (backlog.go),
		// or, on a file system short of room, goes into the tree at once.
		// No write into the tree finds a missing bucket now: a stat does, here (no
		// record for a commit bound to fail) and with the entry (a removal of the bucket
		// meanwhile).
		bucketThere := func() error { return d.bucketThere(bucket) }
		if err := bucketThere(); err != nil {
			return err
		}
		room := d.redo.treeHasRoom()
		err := d.redo.log(redoEntry{path: rel, data: metaBytes}, seat, func(at redoAt) error {
			if err := d.failpoint("commit:logged"); err != nil {
				return err
			}
			if room {
				return d.redo.addBacklog(rel, at, len(metaBytes), bucketThere)
			}
			return d.redo.replacePath(rel, func(bool) error {
				return d.writeMeta(d.tmpPath(), metaPath, bucketDir, metaBytes, false, nil)
			})
		})
		if !errors.Is(err, errRedoTooLarge) {
			return err
		}
	}
	return d.writeMeta(d.tmpPath(), metaPath, bucketDir, metaBytes, durable, beforeSync)
}

// batchSeat is a drive's place in ctx's commit batch (storage.CommitBatch) for one
// durable change: arrive, just before the change's sync, waits there for the batch's
// other drives on this file system, so that one sync serves them all; leave gives the
// place up, so that no other drive waits for this one (the change failed first, needs no
// sync, or must wait for something that may wait for the batch: a checkpoint). Each counts
// once, whichever comes first. A nil seat (no batch, or no commit group) does nothing.
type batchSeat struct {
	batch  *storage.CommitBatch
	domain any
	wait   time.Duration
	// expired counts the arrivals whose wait the bound ended (the drive's batchExpired).
	expired *atomic.Int64
	counted bool
}

// seat returns the drive's seat in ctx's commit batch, nil outside one. The caller defers
// its leave.
func (d *Drive) seat(ctx context.Context) *batchSeat {
	batch := storage.CommitBatchOf(ctx)
	if batch == nil || d.group == nil {
		return nil
	}
	return &batchSeat{batch: batch, domain: d.group, wait: d.batchWait, expired: &d.batchExpired}
}

func (s *batchSeat) arrive() {
	if s == nil || s.counted {
		return
	}
	s.counted = true
	if !s.batch.Arrive(s.domain, s.wait) {
		s.expired.Add(1)
	}
}

func (s *batchSeat) leave() {
	if s == nil || s.counted {
		return
	}
	s.counted = true
	s.batch.Leave(s.domain)
}

// settleObject is settle for the metadata file at metaPath (a path in the drive).
func (d *Drive) settleObject(metaPath string) error {
	if d.redo == nil {
		return nil
	}
	return d.redo.settle(d.relPath(metaPath), false)
}

// relPath returns full, a path in the drive, relative to the drive's root.
func (d *Drive) relPath(full string) string { return strings.TrimPrefix(full, d.root+"/") }

// rename is renameDurable, or renameInto without any sync when not durable.
func (d *Drive) rename(src, dst string, staged, durable bool) error {
	if durable {
		return renameDurable(d.root, src, dst, staged)
	}
	return renameInto(d.root, src, dst, false)
}

// DeleteObject removes an object's metadata and the directories that leaves empty. With a
// redo log, the removal is a record in the log, then the tree's remove without syncs.
func (d *Drive) DeleteObject(ctx context.Context, bucket, key string) error {
	seat := d.seat(ctx)
	defer seat.leave()
	metaPath, err := d.objectPath(bucket, key)
	if err != nil {
		return err
	}
	if d.redo != nil {
		rel := d.relPath(metaPath)
		// A missing object costs no record (and no log sync).
		if !d.redo.backlog.has(rel) {
			if _, err := os.Lstat(metaPath); err != nil {
				return fmt.Errorf("delete %s/%s on %s: %w", bucket, key, d.root, d.objectErr(bucket, err))
			}
		}
		err := d.redo.log(redoEntry{rm: rel}, seat, func(redoAt) error {
			return d.removeLogged(rel, metaPath, bucket)
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrDriveFull) {
			return fmt.Errorf("delete %s/%s on %s: %w", bucket, key, d.root, d.objectErr(bucket, err))
		}
		// A full log whose checkpoint cannot write the backlog into a full file system:
		// an object without a record in the log is removed as without a log, which
		// frees its room.
	}
	if err := d.settleObject(metaPath); err != nil {
		return err
	}
	if err := os.Remove(metaPath); err != nil {
		return fmt.Errorf("delete %s/%s on %s: %w", bucket, key, d.root, d.objectErr(bucket, err))
	}
	dir := filepath.Dir(metaPath)
	// The directory may already be gone: a concurrent delete removed it once it was empty.
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s/%s on %s: %w", bucket, key, d.root, mapErr(err))
	}
	removeEmptyParents(dir, d.root+"/"+bucket)
	return nil
}

// removeLogged removes the metadata file full (rel from the drive's root) of bucket, whose
// removal the redo log holds, and the directories that leaves empty. The backlog's file of
// the path, if any, is dropped, never written; the tree then need not hold the file.
func (d *Drive) removeLogged(rel, full, bucket string) error {
	return d.redo.replacePath(rel, func(backlogged bool) error {
		if err := os.Remove(full); err != nil && !(backlogged && errors.Is(err, fs.ErrNotExist)) {
			return err
		}
		removeEmptyParents(filepath.Dir(full), d.root+"/"+bucket)
		return nil
	})
}

// RenameObject moves an object's metadata file to another key: one rename, so atomic on
// this drive; its data directory stays where it is, and so does the replaced object's.
// With a redo log it is logged (renameLogged) when the metadata file fits a record.
func (d *Drive) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	seat := d.seat(ctx)
	defer seat.leave()
	src, err := d.objectPath(bucket, srcKey)
	if err != nil {
		return err
	}
	dst, err := d.objectPath(bucket, dstKey)
	if err != nil {
		return err
	}
	if d.redo != nil && src != dst {
		err := d.renameLogged(bucket, src, dst, seat)
		if !errors.Is(err, errRedoTooLarge) {
			if err != nil {
				return fmt.Errorf("rename %s/%s to %s on %s: %w", bucket, srcKey, dstKey, d.root, err)
			}
			return nil
		}
	}
	if d.redo != nil {
		// The tree's own rename: the backlog's files of both paths go there first.
		for _, p := range []string{src, dst} {
			if err := d.redo.writePath(d.relPath(p)); err != nil {
				return fmt.Errorf("rename %s/%s to %s on %s: %w", bucket, srcKey, dstKey, d.root, err)
			}
		}
	}
	if src == dst {
		_, err := os.Stat(src)
		return d.objectErr(bucket, err)
	}
	for _, p := range []string{src, dst} {
		if err := d.settleObject(p); err != nil {
			return err
		}
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("rename %s/%s on %s: %w", bucket, srcKey, d.root, d.objectErr(bucket, err))
	}
	if err := d.failpoint("rename:object"); err != nil {
		return err
	}
	if err := renameDurable(d.root, src, dst, false); err != nil {
		return fmt.Errorf("rename %s/%s to %s on %s: %w", bucket, srcKey, dstKey, d.root, d.objectErr(bucket, err))
	}
	removeEmptyParents(filepath.Dir(src), d.root+"/"+bucket)
	return nil
}

// renameLogged is RenameObject through the redo log: one record says that dst's metadata
// file is src's bytes and that src is removed, so that a crash redoes both or neither and
// the object is under exactly one of the two keys; once it is durable, dst's file waits in
// the backlog and src's leaves the tree (or the backlog), without syncs; on a drive short
// of room the tree's rename follows instead. errRedoTooLarge, before anything is done,
// when src's metadata does not fit a record. The caller holds both keys' locks (the object
// layer does): src must not change between its read here and the rename. seat is the
// drive's place in the change's commit batch. dst's entry comes before src's removal: a
// reader meanwhile finds the object under both keys, never under neither.
func (d *Drive) renameLogged(bucket, src, dst string, seat *batchSeat) error {
	srcRel, dstRel := d.relPath(src), d.relPath(dst)
	b, backlogged, err := d.redo.read([]byte(srcRel))
	if err != nil {
		return err
	}
	if !backlogged {
		if b, err = readSmallFile(append([]byte(src), 0)); err != nil {
			return d.objectErr(bucket, err)
		}
	}
	e := redoEntry{path: dstRel, data: b, rm: srcRel}
	if !d.redo.fits(len(e.path)+len(e.rm), len(b)) {
		return errRedoTooLarge
	}
	if err := d.failpoint("rename:object"); err != nil {
		return err
	}
	room := d.redo.treeHasRoom()
	return d.redo.log(e, seat, func(at redoAt) error {
		if err := d.failpoint("rename:logged"); err != nil {
			return err
		}
		if room {
			// The destination's file waits in the backlog (the record's data is its
			// bytes); the source's leaves the tree, or the backlog without being written.
			if err := d.redo.addBacklog(dstRel, at, len(b), func() error { return d.bucketThere(bucket) }); err != nil {
				return err
			}
			if err := d.removeLogged(srcRel, src, bucket); err != nil {
				return d.objectErr(bucket, err)
			}
			return nil
		}
		// Short of room: the tree's rename, as before the backlog, both files written
		// there first.
		for _, p := range []string{srcRel, dstRel} {
			if err := d.redo.writePath(p); err != nil {
				return err
			}
		}
		if err := renameInto(d.root, src, dst, false); err != nil {
			return d.objectErr(bucket, err)
		}
		removeEmptyParents(filepath.Dir(src), d.root+"/"+bucket)
		return nil
	})
}
