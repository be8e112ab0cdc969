// Package fence wraps a drive with fencing by ownership epoch (see package
// objstore/cluster/owner): the drive remembers, durably, the newest epoch any call for its
// erasure set has carried, and refuses with storage.ErrStaleEpoch every call that carries an
// older one. A paused or cut-off node whose lock was granted by a replaced owner can then
// neither change nor read through this drive what the new owner serves.
//
// Which calls: every call whose context carries an epoch for the drive's set
// (storage.WithEpochs), reads included; the object core attaches the epoch of the lock it
// holds to everything it does under that lock. A call without one is not fenced: a
// one-node deployment never attaches one, and so costs nothing more than a context lookup.
//
// Ordering: a call admitted under epoch e runs holding the read side of a lock; raising the
// epoch takes the write side, so once a drive has recorded e2 no call under e1 < e2 starts,
// and the calls under e1 already running finish before e2 is recorded. Raising is rare (a
// change of owner), so the common path is one uncontended read lock. Walk and the reads
// of an opened file are admitted at their start only: they change nothing.
//
// # Record, version 1
//
// .flashstor.sys/fence.json holds {"version":1,"epoch":N} (N a decimal uint64), replaced
// atomically and durably (Drive.WriteFile) each time the epoch grows, and only then. A
// missing record is epoch 0. A record that cannot be parsed, or of another version, makes
// every fenced call fail with storage.ErrFileCorrupt rather than forget the epoch and let a
// stale owner in; the operator's repair is to remove it, which the next owner's takeover
// then raises again.
package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// RecordPath is the fence record's path in storage.SysVolume.
const RecordPath = "fence.json"

// Drive is a fenced drive of one erasure set.
type Drive struct {
	inner storage.Drive
	set   int

	// mu orders calls by epoch: admitted calls hold it for reading, raising the epoch
	// holds it for writing.
	mu sync.RWMutex
	// newest is the newest epoch recorded; loaded whether it was read from the drive;
	// loadErr why the record could not be read. GUARDED_BY(mu).
	newest  uint64
	loaded  bool
	loadErr error
}

var _ storage.Drive = (*Drive)(nil)

// Wrap returns d fenced as a drive of erasure set set. The record is read at the first
// fenced call.
func Wrap(d storage.Drive, set int) *Drive { return &Drive{inner: d, set: set} }

// Unwrap returns the wrapped drive.
func (d *Drive) Unwrap() storage.Drive { return d.inner }

// Newest returns the newest epoch the drive has recorded (loading it if needed).
func (d *Drive) Newest(ctx context.Context) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.load(ctx); err != nil {
		return 0, err
	}
	return d.newest, nil
}

// admit checks ctx's epoch for d's set and, when it is newer than the newest recorded,
// records it. It returns the release of the read lock the call must hold while it runs.
func (d *Drive) admit(ctx context.Context) (release func(), err error) {
	e, ok := storage.EpochOf(ctx, d.set)
	if !ok {
		return func() {}, nil
	}
	// Bounded: each pass either returns or raises the epoch to e, after which only a
	// newer epoch (a refusal) or e itself (admitted) can be found.
	for range 3 {
		d.mu.RLock()
		if d.loaded && d.loadErr == nil && e == d.newest {
			return d.mu.RUnlock, nil
		}
		if d.loaded && d.loadErr == nil && e < d.newest {
			newest := d.newest
			d.mu.RUnlock()
			return nil, d.stale(e, newest)
		}
		d.mu.RUnlock()
		if err := d.raise(ctx, e); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("fence %s: epoch %d kept changing: %w", d.inner, e, storage.ErrStaleEpoch)
}

func (d *Drive) stale(e, newest uint64) error {
	return fmt.Errorf("fence %s: set %d: epoch %d is older than %d: %w", d.inner, d.set, e, newest, storage.ErrStaleEpoch)
}

// raise records e if it is newer than the newest recorded.
func (d *Drive) raise(ctx context.Context, e uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.load(ctx); err != nil {
		return err
	}
	switch {
	case e < d.newest:
		return d.stale(e, d.newest)
	case e == d.newest:
		return nil
	}
	// The record outlives the caller's cancellation: a half-raised epoch is harmless
	// (the write is atomic) but an abandoned one would be raised again by the next call.
	if err := d.inner.WriteFile(context.WithoutCancel(ctx), storage.SysVolume, RecordPath, Encode(e)); err != nil {
		return fmt.Errorf("fence %s: recording epoch %d: %w", d.inner, e, err)
	}
	d.newest = e
	return nil
}

// load reads the record once; d.mu must be held for writing. A read that failed for a
// reason other than a bad record (a drive fault) is tried again at the next call.
func (d *Drive) load(ctx context.Context) error {
	if d.loaded {
		return d.loadErr
	}
	b, err := d.inner.ReadFile(ctx, storage.SysVolume, RecordPath)
	switch {
	case errors.Is(err, storage.ErrFileNotFound), errors.Is(err, storage.ErrVolumeNotFound):
		d.newest, d.loaded = 0, true
		return nil
	case err != nil:
		return fmt.Errorf("fence %s: reading the record: %w", d.inner, err)
	}
	e, err := Decode(b)
	if err != nil {
		d.loaded, d.loadErr = true, fmt.Errorf("fence %s: %w: %w", d.inner, storage.ErrFileCorrupt, err)
		return d.loadErr
	}
	d.newest, d.loaded = e, true
	return nil
}

// record is the fence record's JSON body.
type record struct {
	Version int    `json:"version"`
	Epoch   uint64 `json:"epoch,string"`
}

// Encode returns the version 1 record of epoch e.
func Encode(e uint64) []byte {
	b, _ := json.Marshal(record{Version: 1, Epoch: e})
	return b
}

// Decode parses a fence record of any version this binary knows (1).
func Decode(b []byte) (uint64, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return 0, fmt.Errorf("fence record: %w", err)
	}
	if dec.More() {
		return 0, errors.New("fence record: data after the record")
	}
	if r.Version != 1 {
		return 0, fmt.Errorf("fence record: unknown version %d", r.Version)
	}
	return r.Epoch, nil
}

// String names the drive.
func (d *Drive) String() string { return d.inner.String() }

// guard runs fn admitted under ctx's epoch.
func (d *Drive) guard(ctx context.Context, fn func() error) error {
	release, err := d.admit(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

func (d *Drive) DiskInfo(ctx context.Context) (info storage.DiskInfo, err error) {
	err = d.guard(ctx, func() error { info, err = d.inner.DiskInfo(ctx); return err })
	return info, err
}

func (d *Drive) ReadFormat(ctx context.Context) (b []byte, err error) {
	err = d.guard(ctx, func() error { b, err = d.inner.ReadFormat(ctx); return err })
	return b, err
}

func (d *Drive) WriteFormat(ctx context.Context, format []byte) error {
	return d.guard(ctx, func() error { return d.inner.WriteFormat(ctx, format) })
}

func (d *Drive) MakeVolume(ctx context.Context, volume string) error {
	return d.guard(ctx, func() error { return d.inner.MakeVolume(ctx, volume) })
}

func (d *Drive) StatVolume(ctx context.Context, volume string) (t time.Time, err error) {
	err = d.guard(ctx, func() error { t, err = d.inner.StatVolume(ctx, volume); return err })
	return t, err
}

func (d *Drive) ListVolumes(ctx context.Context) (v []string, err error) {
	err = d.guard(ctx, func() error { v, err = d.inner.ListVolumes(ctx); return err })
	return v, err
}

func (d *Drive) DeleteVolume(ctx context.Context, volume string, force bool) error {
	return d.guard(ctx, func() error { return d.inner.DeleteVolume(ctx, volume, force) })
}

func (d *Drive) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	return d.guard(ctx, func() error { return d.inner.CreateFile(ctx, volume, path, size, r) })
}

// OpenFile is admitted at the open; reads from the file are not fenced again (a data
// directory is never rewritten in place, so what an open file reads cannot be newer data).
func (d *Drive) OpenFile(ctx context.Context, volume, path string) (f storage.File, err error) {
	err = d.guard(ctx, func() error { f, err = d.inner.OpenFile(ctx, volume, path); return err })
	return f, err
}

func (d *Drive) ReadFile(ctx context.Context, volume, path string) (b []byte, err error) {
	err = d.guard(ctx, func() error { b, err = d.inner.ReadFile(ctx, volume, path); return err })
	return b, err
}

func (d *Drive) WriteFile(ctx context.Context, volume, path string, data []byte) error {
	return d.guard(ctx, func() error { return d.inner.WriteFile(ctx, volume, path, data) })
}

func (d *Drive) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	return d.guard(ctx, func() error { return d.inner.RenameFile(ctx, srcVolume, srcPath, dstVolume, dstPath) })
}

func (d *Drive) Delete(ctx context.Context, volume, path string, recursive bool) error {
	return d.guard(ctx, func() error { return d.inner.Delete(ctx, volume, path, recursive) })
}

func (d *Drive) ListDir(ctx context.Context, volume, dir string) (v []string, err error) {
	err = d.guard(ctx, func() error { v, err = d.inner.ListDir(ctx, volume, dir); return err })
	return v, err
}

func (d *Drive) ReadMeta(ctx context.Context, bucket, key string) (b []byte, err error) {
	err = d.guard(ctx, func() error { b, err = d.inner.ReadMeta(ctx, bucket, key); return err })
	return b, err
}

func (d *Drive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	return d.guard(ctx, func() error { return d.inner.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir) })
}

func (d *Drive) DeleteObject(ctx context.Context, bucket, key string) error {
	return d.guard(ctx, func() error { return d.inner.DeleteObject(ctx, bucket, key) })
}

func (d *Drive) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	return d.guard(ctx, func() error { return d.inner.RenameObject(ctx, bucket, srcKey, dstKey) })
}

// Walk is admitted at its start and runs without holding the ordering lock: a walk can be
// long, and its callback may call the drive again, which under a held read lock would
// deadlock against a raise waiting for the write side. A walk only reads.
func (d *Drive) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	release, err := d.admit(ctx)
	if err != nil {
		return err
	}
	release()
	return d.inner.Walk(ctx, bucket, opts, fn)
}

var _ storage.FileSystemSyncer = (*Drive)(nil)

// SyncFileSystem forwards to the wrapped drive when it can sync its file system (a local
// drive deferring its syncs); a drive that cannot never defers, so there is nothing to
// sync. A sync changes nothing that a reader sees, so it is not fenced.
func (d *Drive) SyncFileSystem(ctx context.Context) error {
	if s, ok := d.inner.(storage.FileSystemSyncer); ok {
		return s.SyncFileSystem(ctx)
	}
	return nil
}

var _ storage.CommitDomainer = (*Drive)(nil)

// CommitDomain forwards to the wrapped drive (storage.CommitDomainer).
func (d *Drive) CommitDomain() any {
	if c, ok := d.inner.(storage.CommitDomainer); ok {
		return c.CommitDomain()
	}
	return nil
}
