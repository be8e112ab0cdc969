package pool

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// Limits of the write-behind table (objstore.WriteBehind).
const (
	// behindMaxObject is the largest object PutBehind takes: the mount's in-memory files.
	behindMaxObject = 1 << 20
	// behindMaxBytes caps the memory of every pending put together (data, key, overhead).
	behindMaxBytes = 64 << 20
	// behindMaxPuts caps the number of pending puts (empty files cost little memory, but
	// each holds a goroutine until committed).
	behindMaxPuts = 8192
	// BehindCommits is how many pending puts are committed at once.
	BehindCommits = 4
	// behindOverhead is what a pending put costs beyond its data and key.
	behindOverhead = 512
)

var _ objstore.WriteBehind = (*Pool)(nil)

// behind is the pool's table of pending puts. Lock order: a pool operation takes a key's
// hold (behind.mu briefly) before any namespace lock; a background commit takes the
// namespace locks of its key only, never a hold.
type behind struct {
	// on is set by EnableWriteBehind, after keys and sem: until then no operation looks
	// at the table. The zero value is a table that is off.
	on     atomic.Bool
	enable sync.Once
	// sem bounds the commits running at once.
	sem chan struct{}

	mu sync.Mutex
	// keys holds every key with pending puts, an operation holding it or an unreported
	// error. GUARDED_BY(mu).
	keys map[behindKey]*behindEntry
	// bytes and puts are the cost and number of the pending puts. GUARDED_BY(mu).
	bytes int64
	puts  int

	// Counters, for metrics and tests; waiting counts the operations waiting for pending
	// puts now.
	taken, committed, failed, dropped, superseded, waiting, waited atomic.Int64
}

type behindKey struct{ bucket, key string }

// behindEntry is one key's state.
type behindEntry struct {
	// queue holds the key's pending puts in the order taken; queue[0] is being committed
	// while running. GUARDED_BY(behind.mu).
	queue   []*pendingPut
	running bool
	// held counts the operations running on the key: no put of it is taken meanwhile.
	held int
	// err is the first failed commit not yet reported by FlushKey.
	err error
}

// pendingPut is one taken put.
type pendingPut struct {
	ctx  context.Context
	data []byte
	opts objstore.PutOptions
	cost int64
	// done is closed once the put is committed or has failed.
	done chan struct{}
}

// behindCommitKey marks the context of a background commit: its own locks do not wait for
// the table.
type behindCommitKey struct{}

// EnableWriteBehind implements objstore.WriteBehind.
func (p *Pool) EnableWriteBehind() {
	p.wb.enable.Do(func() {
		p.wb.mu.Lock()
		p.wb.sem = make(chan struct{}, BehindCommits)
		p.wb.keys = make(map[behindKey]*behindEntry)
		p.wb.mu.Unlock()
		p.wb.on.Store(true)
	})
}

// WriteBehindStats describes the write-behind table (objstore.WriteBehind).
type WriteBehindStats struct {
	// Taken, Committed and Failed count the puts taken, and the background commits that
	// succeeded and failed, since the start; Dropped the create-if-absent puts that found
	// the key made by another writer (neither committed nor failed), Superseded the puts
	// replaced by a later put of their key before their commit started.
	Taken, Committed, Failed, Dropped, Superseded int64
	// Pending and Bytes are the puts not yet committed and their memory.
	Pending int
	Bytes   int64
	// Waiting counts the operations waiting now for pending puts to be committed, Waited
	// those that waited since the start.
	Waiting, Waited int64
}

// WriteBehindStats returns the write-behind table's counters, for metrics and tests.
func (p *Pool) WriteBehindStats() WriteBehindStats {
	b := &p.wb
	b.mu.Lock()
	pending, bytes := b.puts, b.bytes
	b.mu.Unlock()
	return WriteBehindStats{Taken: b.taken.Load(), Committed: b.committed.Load(), Failed: b.failed.Load(), Dropped: b.dropped.Load(),
		Superseded: b.superseded.Load(),
		Pending:    pending, Bytes: bytes, Waiting: b.waiting.Load(), Waited: b.waited.Load()}
}

// PutBehind implements objstore.WriteBehind.
func (p *Pool) PutBehind(ctx context.Context, bucket, key string, data []byte, opts objstore.PutOptions) (objstore.ObjectInfo, bool, error) {
	b := &p.wb
	if !b.on.Load() || len(data) > behindMaxObject ||
		(opts.Preconditions != (objstore.Preconditions{}) && opts.Preconditions != objstore.Preconditions{IfNoneMatch: true}) ||
		opts.Lock != (objstore.ObjectLock{}) {
		return objstore.ObjectInfo{}, false, nil
	}
	if err := checkBucketName(bucket); err != nil {
		return objstore.ObjectInfo{}, false, err
	}
	if err := checkKeyName(key); err != nil {
		return objstore.ObjectInfo{}, false, err
	}
	// The bucket must exist now (a put into a missing one fails now, not in the
	// background) and be unversioned (a version id would be known only at the commit).
	// The versioning cache answers both without a drive read: it is loaded only for an
	// existing bucket and forgotten when one is made or deleted. A bucket deleted after
	// this check fails the commit, which the key's FlushKey reports.
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return objstore.ObjectInfo{}, false, err
	}
	if mode != objstore.Unversioned {
		return objstore.ObjectInfo{}, false, nil
	}
	if opts.ModTime.IsZero() {
		// Recorded now, so that the commit stores the time the caller was given.
		opts.ModTime = time.Now().UTC().Round(0)
	}
	opts.Metadata = maps.Clone(opts.Metadata)
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	opts.ContentMD5 = sum[:] // the commit's ETag: the body is not hashed twice
	info := objstore.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data)), ModTime: opts.ModTime,
		ETag: etag, Metadata: maps.Clone(opts.Metadata),
		Parts:   []objstore.PartInfo{{Number: 1, Size: int64(len(data)), ETag: etag}},
		Version: objstore.VersionInfo{VersionID: objstore.NullVersion, IsLatest: true}}
	pp := &pendingPut{ctx: context.WithoutCancel(ctx), data: data, opts: opts,
		cost: int64(len(data)+len(key)) + behindOverhead, done: make(chan struct{})}

	k := behindKey{bucket, key}
	b.mu.Lock()
	e := b.keys[k]
	if (e != nil && e.held > 0) || b.bytes+pp.cost > behindMaxBytes || b.puts >= behindMaxPuts {
		b.mu.Unlock()
		return objstore.ObjectInfo{}, false, nil
	}
	if e != nil && len(e.queue) >= 2 {
		if last := e.queue[len(e.queue)-1]; last.opts.Preconditions == pp.opts.Preconditions {
			// The key's last pending put has not started (queue[0] alone is being
			// committed): the new one replaces it, in place, so that whoever waits for it
			// waits for the new one. Each put carries the whole object and nothing reads the
			// older one (every operation on the key waits for its pending puts), so
			// committing the newer alone ends in the same state with one commit fewer: tar
			// sets a directory's times, then its mode, two puts of its marker in a row.
			b.bytes += pp.cost - last.cost
			last.ctx, last.data, last.opts, last.cost = pp.ctx, pp.data, pp.opts, pp.cost
			b.taken.Add(1)
			b.superseded.Add(1)
			b.mu.Unlock()
			return info, true, nil
		}
	}
	if e == nil {
		e = &behindEntry{}
		b.keys[k] = e
	}
	e.queue = append(e.queue, pp)
	b.bytes += pp.cost
	b.puts++
	start := !e.running
	e.running = true
	b.taken.Add(1)
	b.mu.Unlock()
	if start {
		go p.commitBehind(k, e)
	}
	return info, true, nil
}

// checkKeyName refuses a key that no put could store, so that such a put fails now.
func checkKeyName(key string) error {
	if key == "" || strings.ContainsRune(key, 0) {
		return objstore.ErrInvalidObjectName
	}
	return nil
}

// commitBehind commits e's pending puts in order until its queue is empty.
func (p *Pool) commitBehind(k behindKey, e *behindEntry) {
	b := &p.wb
	for {
		b.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			b.dropIfIdleLocked(k, e)
			b.mu.Unlock()
			return
		}
		pp := e.queue[0]
		b.mu.Unlock()

		b.sem <- struct{}{}
		ctx := context.WithValue(pp.ctx, behindCommitKey{}, true)
		_, err := p.PutObject(ctx, k.bucket, k.key, bytes.NewReader(pp.data), int64(len(pp.data)), pp.opts)
		<-b.sem
		if err != nil && pp.opts.Preconditions.IfNoneMatch && errors.Is(err, objstore.ErrPreconditionFailed) {
			// Another writer made the key first: its object stays (PutBehind's contract).
			b.dropped.Add(1)
			p.log.Info("pool: a write-behind create-if-absent found the key made meanwhile; the other object stays",
				"bucket", k.bucket, "key", k.key)
			err = nil
		} else if err != nil {
			b.failed.Add(1)
			p.log.Error("pool: a write-behind commit failed; the key's next fsync reports it",
				"bucket", k.bucket, "key", k.key, "err", err)
		} else {
			b.committed.Add(1)
		}

		b.mu.Lock()
		e.queue = e.queue[1:]
		b.bytes -= pp.cost
		b.puts--
		if err != nil && e.err == nil {
			e.err = err
		}
		b.mu.Unlock()
		close(pp.done)
	}
}

// dropIfIdleLocked forgets e when nothing refers to it any more.
func (b *behind) dropIfIdleLocked(k behindKey, e *behindEntry) {
	if len(e.queue) == 0 && !e.running && e.held == 0 && e.err == nil {
		delete(b.keys, k)
	}
}

// hold waits until the pending puts of bucket/key are committed and keeps new ones from
// being taken until release is called: every operation that locks a key calls it first.
// A background commit's own locks (ctx marked) do not.
func (b *behind) hold(ctx context.Context, bucket, key string) (release func()) {
	if !b.on.Load() || ctx.Value(behindCommitKey{}) != nil {
		return nil
	}
	k := behindKey{bucket, key}
	b.mu.Lock()
	e := b.keys[k]
	if e == nil {
		e = &behindEntry{}
		b.keys[k] = e
	}
	e.held++
	var last *pendingPut
	if n := len(e.queue); n > 0 {
		last = e.queue[n-1]
	}
	b.mu.Unlock()
	if last != nil {
		b.waited.Add(1)
		b.waiting.Add(1)
		<-last.done
		b.waiting.Add(-1)
	}
	return func() {
		b.mu.Lock()
		e.held--
		b.dropIfIdleLocked(k, e)
		b.mu.Unlock()
	}
}

// holdNames is hold for the lock names of a grant: every key's own lock name
// ("bucket/key", erasureset.LockName); bucket, upload and part names hold nothing.
func (b *behind) holdNames(ctx context.Context, names []string) (release func()) {
	if !b.on.Load() || ctx.Value(behindCommitKey{}) != nil {
		return nil
	}
	var releases []func()
	for _, n := range names {
		if strings.ContainsRune(n, 0) {
			continue
		}
		bucket, key, ok := strings.Cut(n, "/")
		if !ok {
			continue
		}
		if r := b.hold(ctx, bucket, key); r != nil {
			releases = append(releases, r)
		}
	}
	if len(releases) == 0 {
		return nil
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

// waitPrefix waits until every put pending now of a key of bucket below prefix is
// committed: a listing shows them.
func (b *behind) waitPrefix(ctx context.Context, bucket, prefix string) error {
	if !b.on.Load() || ctx.Value(behindCommitKey{}) != nil {
		return nil
	}
	return b.wait(ctx, func(k behindKey) bool {
		return k.bucket == bucket && strings.HasPrefix(k.key, prefix)
	})
}

// wait waits for the last pending put of every key that match selects.
func (b *behind) wait(ctx context.Context, match func(behindKey) bool) error {
	var waits []chan struct{}
	b.mu.Lock()
	for k, e := range b.keys {
		if n := len(e.queue); n > 0 && match(k) {
			waits = append(waits, e.queue[n-1].done)
		}
	}
	b.mu.Unlock()
	if len(waits) == 0 {
		return nil
	}
	b.waited.Add(1)
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// FlushKey implements objstore.WriteBehind.
func (p *Pool) FlushKey(ctx context.Context, bucket, key string) error {
	b := &p.wb
	if !b.on.Load() {
		return nil
	}
	k := behindKey{bucket, key}
	if err := b.wait(ctx, func(x behindKey) bool { return x == k }); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.keys[k]
	if e == nil || e.err == nil {
		return nil
	}
	err := e.err
	e.err = nil
	b.dropIfIdleLocked(k, e)
	return errors.Join(errors.New("pool: a background commit of this key failed"), err)
}

// FlushAll implements objstore.WriteBehind.
func (p *Pool) FlushAll(ctx context.Context) error {
	if !p.wb.on.Load() {
		return nil
	}
	return p.wb.wait(ctx, func(behindKey) bool { return true })
}
