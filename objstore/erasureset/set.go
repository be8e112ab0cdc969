// Package erasureset is one erasure set: a group of 1 to 16 drives across which every
// object is erasure-coded into k data and m parity shards, one shard per drive. It
// implements the object operations of the core on its drives with quorum rules, rollback
// below quorum, and healing of what it finds missing or corrupt. Callers (package pool) hold
// the namespace lock of every key they pass; only healing takes locks itself.
package erasureset

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/md5lanes"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/internal/workers"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Config describes a set.
type Config struct {
	// Index is the set's number in its pool, for messages.
	Index int
	// Drives are the set's drives, in their formatted positions.
	Drives []storage.Drive
	// Parity is m for new objects: 0 <= Parity <= len(Drives)/2.
	Parity int
	// BlockSize is the erasure stripe size for new objects (erasure.DefaultBlockSize if 0).
	BlockSize int64
	// Bitrot is the checksum algorithm for new objects (erasure.DefaultBitrot if 0).
	Bitrot erasure.BitrotAlgorithm
	// InlineLimit is the largest object kept inside its metadata files (DefaultInlineLimit
	// if 0; negative: never inline).
	InlineLimit int64
	// Locks are the pool's namespace locks, which healing takes (a new nslock.Map if nil).
	Locks Locker
	// Log receives what the set does on its own (healing); slog.Default() if nil.
	Log *slog.Logger
	// OnBitrot, if set, is called with how many shards a read or a heal found damaged:
	// corrupt (a checksum mismatch, a file too long) or truncated, not merely missing. It
	// counts findings, not distinct files: a read reports each damaged shard file once per
	// open handle, and the heal that read queues reports it again when its check finds it.
	// It is called from the goroutine that found the damage, concurrently across
	// operations, and must not block.
	OnBitrot func(shards int)
	// BeforeCommit, if set, is called by a PutObject holding the key's write lock, right
	// before it commits the metadata: a test hook, which may block, to hold a write between
	// its lock grant and its commit (the fault suite pauses the node there to check that
	// the commit is fenced once another node owns the set).
	BeforeCommit func(bucket, key string)
	// SharedDrives says that other processes write the set's drives too (the nodes of a
	// cluster, each with a set of its own over the same drives): their renames and heals
	// claim nothing in this process (see claimSet). The collector then runs only where
	// Locks can watch every lock of the set (a LockWatcher: in a cluster, on the set's
	// owner), and reads again the records of the keys written during its walk; elsewhere
	// CollectGarbage returns ErrCollectorOff.
	SharedDrives bool
	// Now is the clock that stamps an upload's initiation (time.Now if nil), by which the
	// expiry of incomplete uploads measures its age, and by which the collector tells a
	// data directory's age from its name; tests set a clock of their own.
	Now func() time.Time
	// MD5 hands out the ETag hashes of bodies too large to be inline, shared by the sets
	// of a process so that many concurrent puts hash in the lanes of one multi-buffer
	// hasher; crypto/md5 for every body if nil.
	MD5 *md5lanes.Source
}

// DefaultInlineLimit is the largest object stored inline in its metadata files by default:
// one file per drive instead of two, and one read for a GET.
const DefaultInlineLimit = 128 << 10

// Set is one erasure set.
type Set struct {
	cfg    Config
	drives []storage.Drive
	k, m   int
	log    *slog.Logger

	codecsMu sync.Mutex
	// codecs caches one codec per geometry; guarded by codecsMu.
	codecs map[codecKey]*erasure.Codec

	// dirty[i] is set when a write to drive i failed: its metadata may be stale until it is
	// healed, so listings do not take their metadata from it.
	dirty []atomic.Bool

	// lat measures each drive's answers, so that reads leave a slow drive's shards aside.
	lat latencies
	// late records the writes' drive calls that run on after their write returned.
	late lateWrites

	pins   pinSet
	claims claimSet
	heal   healQueue
	// intents is the pool's IntentCheck (nil: none), asked before a dangling key's copies
	// are removed.
	intents atomic.Pointer[IntentCheck]

	// workers run the per-drive calls of fanOut; waitGroups recycles its WaitGroups (each
	// *sync.WaitGroup, idle, with a zero count).
	workers    *workers.Pool[driveCall]
	waitGroups sync.Pool
}

type codecKey struct {
	k, m      int
	blockSize int64
	bitrot    erasure.BitrotAlgorithm
}

// New returns the set described by cfg.
func New(cfg Config) (*Set, error) {
	n := len(cfg.Drives)
	if n < 1 || n > 16 {
		return nil, fmt.Errorf("erasure set %d: %d drives, want 1 to 16", cfg.Index, n)
	}
	if cfg.Parity < 0 || cfg.Parity > n/2 {
		return nil, fmt.Errorf("erasure set %d: parity %d for %d drives, want 0 to %d", cfg.Index, cfg.Parity, n, n/2)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = erasure.DefaultBlockSize
	}
	if cfg.Bitrot == 0 {
		cfg.Bitrot = erasure.DefaultBitrot
	}
	if cfg.InlineLimit == 0 {
		cfg.InlineLimit = DefaultInlineLimit
	}
	if cfg.Locks == nil {
		cfg.Locks = &nslock.Map{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Set{
		cfg:    cfg,
		drives: cfg.Drives,
		k:      n - cfg.Parity,
		m:      cfg.Parity,
		log:    cfg.Log.With("set", cfg.Index),
		codecs: make(map[codecKey]*erasure.Codec),
		dirty:  make([]atomic.Bool, n),
		lat:    newLatencies(n),
	}
	// A set lives as long as the process: its idle workers just time out.
	s.workers = workers.New(runDriveCall, nil)
	s.waitGroups.New = func() any { return new(sync.WaitGroup) }
	s.pins.init()
	s.claims.init()
	s.heal.init()
	if _, err := s.codec(s.k, s.m, cfg.BlockSize, cfg.Bitrot); err != nil {
		return nil, fmt.Errorf("erasure set %d: %w", cfg.Index, err)
	}
	return s, nil
}

// Drives returns the set's drives in position order.
func (s *Set) Drives() []storage.Drive { return s.drives }

// Geometry returns k and m for new objects.
func (s *Set) Geometry() (dataShards, parity int) { return s.k, s.m }

// codec returns the codec for a geometry, creating it once.
func (s *Set) codec(k, m int, blockSize int64, alg erasure.BitrotAlgorithm) (*erasure.Codec, error) {
	key := codecKey{k, m, blockSize, alg}
	s.codecsMu.Lock()
	defer s.codecsMu.Unlock()
	if c := s.codecs[key]; c != nil {
		return c, nil
	}
	c, err := erasure.New(k, m, blockSize, alg)
	if err != nil {
		return nil, err
	}
	s.codecs[key] = c
	return c, nil
}

// WriteQuorum is the number of drives a write must reach for an object of k+m shards: k,
// or k+1 when k == m, so that two writes that each reached their quorum always share a drive.
func WriteQuorum(k, m int) int {
	if k == m {
		return k + 1
	}
	return k
}

// distribution returns, for a key, the shard each drive of an n-drive set holds: the
// shards are rotated by a hash of the key so that parity (and the load of reads, which go
// to the data shards first) spreads over all drives.
func distribution(key string, n int) []uint8 {
	start := int(crc32.ChecksumIEEE([]byte(key)) % uint32(n))
	dist := make([]uint8, n)
	for shard := 0; shard < n; shard++ {
		dist[(start+shard)%n] = uint8(shard)
	}
	return dist
}

// each runs fn for every drive concurrently and returns the errors by position.
func (s *Set) each(fn func(i int, d storage.Drive) error) []error {
	errs := make([]error, len(s.drives))
	s.fanOut(fanFunc(func(i int, d storage.Drive) { errs[i] = fn(i, d) }))
	return errs
}

// fanOut runs fn for every drive concurrently, the last on the calling goroutine and the
// others on the set's workers, and returns when every call has returned.
func (s *Set) fanOut(fn driveFunc) {
	last := len(s.drives) - 1
	wg := s.waitGroups.Get().(*sync.WaitGroup)
	wg.Add(last)
	for i, d := range s.drives[:last] {
		s.workers.Go(driveCall{fn: fn, i: i, d: d, done: wg})
	}
	fn.call(last, s.drives[last])
	wg.Wait()
	// Every worker is done with wg: Done was its last use of it.
	s.waitGroups.Put(wg)
}

// eachOf runs fn concurrently for the drives whose entry in which is true; the others get
// errSkipped.
func (s *Set) eachOf(which []bool, fn func(i int, d storage.Drive) error) []error {
	return s.each(func(i int, d storage.Drive) error {
		if !which[i] {
			return errSkipped
		}
		return fn(i, d)
	})
}

var errSkipped = errors.New("drive not part of this operation")

// countNil counts the nil errors.
func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// markDirty records the drives whose write failed (not those skipped).
func (s *Set) markDirty(errs []error) {
	for i, err := range errs {
		if err != nil && !errors.Is(err, errSkipped) && !errors.Is(err, errLateWrite) {
			s.dirty[i].Store(true)
		}
	}
}

// newID returns 16 random bytes.
func newID() [16]byte {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return id
}

func hexID(id [16]byte) string { return hex.EncodeToString(id[:]) }

// stagingDir returns the system-volume path of a new staging directory.
func stagingDir(id [16]byte) string { return "tmp/" + hexID(id) }

// checkKey maps the layout's key errors to the object layer's.
func checkKey(key string) error {
	err := layout.CheckKey(key)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, layout.ErrKeyTooLong):
		return fmt.Errorf("%w: %w", objstore.ErrKeyTooLong, err)
	case errors.Is(err, layout.ErrSegmentTooLong):
		return fmt.Errorf("%w: %w", objstore.ErrNameTooLong, err)
	default:
		return fmt.Errorf("%w: %w", objstore.ErrInvalidObjectName, err)
	}
}

// reduceErr turns the per-drive errors of a failed quorum operation into one error: the
// quorum error, unless most drives agree on something more precise (a full drive).
func reduceErr(errs []error, quorumErr error) error {
	full := 0
	for _, err := range errs {
		if errors.Is(err, storage.ErrDriveFull) {
			full++
		}
	}
	if full > 0 && full >= len(errs)/2 {
		return fmt.Errorf("%w: %w", objstore.ErrStorageFull, errors.Join(errs...))
	}
	if failed := nonNil(errs); len(failed) > 0 {
		return fmt.Errorf("%w: %w", quorumErr, errors.Join(failed...))
	}
	// No drive failed: too few took part (the others were skipped, not holding what the
	// operation needs). errors.Join of nothing is nil, which %w would print as %!w(<nil>).
	return fmt.Errorf("%w: %d of %d drives took part", quorumErr, countNil(errs), len(errs))
}

func nonNil(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errSkipped) && !errors.Is(err, errLateWrite) {
			out = append(out, err)
		}
	}
	return out
}

// ctxErr is the context's error, for loops that must stop promptly.
func ctxErr(ctx context.Context) error { return context.Cause(ctx) }

func erasureAlg(b uint8) erasure.BitrotAlgorithm { return erasure.BitrotAlgorithm(b) }
