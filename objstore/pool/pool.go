// Package pool is the object layer of Flashstor: a pool of erasure sets behind the one
// objstore.ObjectLayer interface. It routes each key to its set, takes the namespace locks,
// merges the sets' listings, moves objects across sets when a rename must, and publishes
// every change on the change feed before the call that made it returns. Operations on
// several keys (a prefix rename, the names of a file with hard links) are made crash-safe
// by the intent journal (package journal) on the first set's drives: committed before any
// key changes, completed by RecoverJournal after a crash.
package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/internal/siphash"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/nslock"
)

// Config describes a pool.
type Config struct {
	// Sets are the erasure sets, in their formatted order.
	Sets []*erasureset.Set
	// PlacementKey keys the hash that places objects on sets (from the deployment's format).
	PlacementKey [16]byte
	// Locks are the namespace locks, shared with the sets: an nslock.Map on one node, the
	// owners' routed locks in a cluster (package cluster/owner).
	Locks erasureset.Locker
	// BucketDocs, if set, keeps the buckets' configuration documents instead of the first
	// set's drives: a cluster's coordination store, shared by every node. Nil on one node.
	BucketDocs BucketDocs
	Log        *slog.Logger
}

// Pool is the object layer over a pool of erasure sets.
type Pool struct {
	sets   []*erasureset.Set
	k0, k1 uint64
	locks  erasureset.Locker
	log    *slog.Logger
	feed   objstore.Feed
	// versioning caches each bucket's versioning state.
	versioning versioningCache
	// docs keeps the buckets' documents when set (Config.BucketDocs).
	docs BucketDocs

	healers sync.WaitGroup

	// journal holds the intents of prefix renames, on the first set's drives.
	journal *journal.Journal
	// prefixMu serialises prefix renames and the journal's recoveries.
	prefixMu sync.Mutex
	// jmu guards active and finished. Lock order: prefixMu before jmu.
	jmu sync.Mutex
	// active holds the ids of journal records whose operation runs in this process:
	// recovery leaves them alone. GUARDED_BY(jmu).
	active map[string]bool
	// finished holds the ids of journal records whose operation is whole but whose record
	// could not be removed: they are removed, not run again. GUARDED_BY(jmu).
	finished map[string]bool

	// wb is the table of pending puts (objstore.WriteBehind): every operation that locks
	// a key waits for that key's pending puts first (behind.hold, in lockKey and grant).
	wb behind
}

var _ objstore.ObjectLayer = (*Pool)(nil)

// New returns the pool of cfg.Sets.
func New(cfg Config) (*Pool, error) {
	if len(cfg.Sets) == 0 {
		return nil, errors.New("pool: no erasure sets")
	}
	if cfg.Locks == nil {
		return nil, errors.New("pool: no namespace locks (the sets must share them)")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	k, m := cfg.Sets[0].Geometry()
	j, err := journal.New(cfg.Sets[0].Drives(), erasureset.WriteQuorum(k, m), nil)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		journal:  j,
		active:   make(map[string]bool),
		finished: make(map[string]bool),
		sets:     cfg.Sets,
		k0:       binary.LittleEndian.Uint64(cfg.PlacementKey[:8]),
		k1:       binary.LittleEndian.Uint64(cfg.PlacementKey[8:]),
		locks:    cfg.Locks,
		log:      cfg.Log,
		docs:     cfg.BucketDocs,
	}
	for _, s := range p.sets {
		s.SetIntentCheck(p.intentNames)
	}
	return p, nil
}

// Sets returns the pool's erasure sets.
func (p *Pool) Sets() []*erasureset.Set { return p.sets }

// SetIndex returns the set that holds key. Placement is SipHash-2-4 of the key under the
// deployment's key, modulo the number of sets. A CRC32 seeded with the deployment id would
// differ per deployment too, but CRC is linear: keys can be crafted to collide under every
// seed at once. A keyed hash cannot be steered without its key.
func (p *Pool) SetIndex(key string) int {
	if len(p.sets) == 1 {
		return 0
	}
	return int(siphash.Sum64(p.k0, p.k1, []byte(key)) % uint64(len(p.sets)))
}

func (p *Pool) setFor(key string) *erasureset.Set { return p.sets[p.SetIndex(key)] }

// RunHealers starts the background healer of every set; they stop when ctx is done.
func (p *Pool) RunHealers(ctx context.Context, report func(erasureset.HealResult, error)) {
	for _, s := range p.sets {
		p.healers.Add(1)
		go func() {
			defer p.healers.Done()
			s.RunHealer(ctx, report)
		}()
	}
}

// WaitHealers waits for the healers started by RunHealers to stop.
func (p *Pool) WaitHealers() { p.healers.Wait() }

// bucketLock is the lock name of a bucket: object operations hold it for reading, so that a
// bucket is not deleted under a write. The NUL cannot appear in a key, so it cannot clash
// with an object's lock name.
func bucketLock(bucket string) string { return "\x00bucket/" + bucket }

// lockKey takes the bucket's read lock and key's write lock (write) or read lock.
// The context returned carries the grant's fencing (erasureset.Locker) and is the one to
// work with under the locks.
// Before the locks it waits for key's pending puts (write-behind) and keeps new ones from
// being taken until the unlock.
func (p *Pool) lockKey(ctx context.Context, bucket, key string, write bool) (context.Context, nslock.Unlock, error) {
	release := p.wb.hold(ctx, bucket, key)
	ctx, unlock, err := p.lockKeyNames(ctx, bucket, key, write)
	return ctx, withRelease(unlock, err, release), err
}

// withRelease returns unlock followed by release (a write-behind hold), or calls release
// at once when the locks were not granted.
func withRelease(unlock nslock.Unlock, err error, release func()) nslock.Unlock {
	if release == nil {
		return unlock
	}
	if err != nil {
		release()
		return unlock
	}
	return func() {
		unlock()
		release()
	}
}

// lockKeyNames takes the locks of lockKey.
func (p *Pool) lockKeyNames(ctx context.Context, bucket, key string, write bool) (context.Context, nslock.Unlock, error) {
	bucketName, keyName := lockNames(bucket, key)
	// One node's map is called directly: through the interface the names would escape to
	// the heap, one allocation more on every object operation.
	if m, ok := p.locks.(*nslock.Map); ok {
		names := [2]string{bucketName, keyName}
		var unlock nslock.Unlock
		var err error
		if write {
			unlock, err = m.Acquire(ctx, names[1:], names[:1])
		} else {
			unlock, err = m.Acquire(ctx, nil, names[:])
		}
		return ctx, unlock, err
	}
	names := []string{bucketName, keyName}
	writes, reads := names[1:], names[:1]
	if !write {
		writes, reads = nil, names
	}
	return p.locks.Grant(ctx, writes, reads)
}

// LockSet returns the erasure set whose key a lock name belongs to (a key's, an upload's or
// a part's lock), or ok false for a bucket's lock: in a cluster, the set's owner grants the
// lock, and every set's owner grants a bucket's (package cluster/owner).
func (p *Pool) LockSet(name string) (set int, ok bool) {
	if strings.HasPrefix(name, "\x00") {
		return 0, false
	}
	// bucket "/" key, then "\x00" upload id and "\x00" part for multipart names: bucket
	// names hold no "/" and keys no NUL.
	_, rest, ok := strings.Cut(name, "/")
	if !ok {
		return 0, false
	}
	key, _, _ := strings.Cut(rest, "\x00")
	return p.SetIndex(key), true
}

// lockNames returns bucketLock(bucket) and erasureset.LockName(bucket, key), cut from one
// string "\x00bucket/<bucket>/<key>": one allocation for the two names every object
// operation locks.
func lockNames(bucket, key string) (bucketName, keyName string) {
	const prefix = "\x00bucket/"
	both := prefix + bucket + "/" + key
	return both[:len(prefix)+len(bucket)], both[len(prefix):]
}

// lockObject takes the bucket's read lock and the write locks of writes and read locks of
// reads (object keys of bucket).
func (p *Pool) lockObject(ctx context.Context, bucket string, writes, reads []string) (context.Context, nslock.Unlock, error) {
	w := make([]string, len(writes))
	for i, k := range writes {
		w[i] = erasureset.LockName(bucket, k)
	}
	r := make([]string, 0, len(reads)+1)
	r = append(r, bucketLock(bucket))
	for _, k := range reads {
		r = append(r, erasureset.LockName(bucket, k))
	}
	return p.grant(ctx, w, r)
}

// grant is p.locks.Grant after the write-behind holds of the keys it locks.
func (p *Pool) grant(ctx context.Context, writes, reads []string) (context.Context, nslock.Unlock, error) {
	var release func()
	if p.wb.on.Load() {
		release = p.wb.holdNames(ctx, append(writes[:len(writes):len(writes)], reads...))
	}
	ctx, unlock, err := p.locks.Grant(ctx, writes, reads)
	return ctx, withRelease(unlock, err, release), err
}

// checkBucketName maps a bucket name that S3 would refuse to ErrBucketNotFound for object
// operations (no such bucket can exist).
func checkBucketName(bucket string) error {
	if layout.CheckBucketName(bucket) != nil {
		return fmt.Errorf("%w: %q", objstore.ErrBucketNotFound, bucket)
	}
	return nil
}

// Subscribe registers fn on the change feed.
func (p *Pool) Subscribe(bucket string, fn func(objstore.Event)) (cancel func()) {
	return p.feed.Subscribe(bucket, fn)
}

func (p *Pool) publish(ctx context.Context, e objstore.Event) { p.feed.Publish(ctx, e) }

// PublishChange delivers e to the pool's subscribers as if the pool had made the change:
// for changes committed elsewhere (another node of a cluster, whose relay hands its
// events to this node's mounts). The origin of ctx marks them.
func (p *Pool) PublishChange(ctx context.Context, e objstore.Event) { p.feed.Publish(ctx, e) }
