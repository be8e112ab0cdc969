package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// LockName is the namespace-lock name of an object. The pool and the healer must agree.
func LockName(bucket, key string) string { return bucket + "/" + key }

// HealResult reports what healing one object did.
type HealResult struct {
	Bucket, Key string
	// Healed lists the drive positions whose copy was rebuilt. A slow drive whose rebuilt
	// copy was still being committed when the heal returned (see lateWrites) is not
	// listed; a failure of that commit marks it dirty.
	Healed []int
	// Dangling is true when copies of a key no quorum holds were removed.
	Dangling bool
}

// HealObject restores, on every drive that answers, the current version of an object:
// missing or corrupt metadata, missing, short or (with deep) corrupt shard files. Drives
// holding a stale or partial copy of a key no quorum holds lose it.
//
// Like a write, it holds the key's write lock only to commit: it reads the version under
// the key's read lock and pins its data, checks and rebuilds shards into the staging areas
// with no lock held, then commits under the write lock if the version is still current
// (a write that replaced it meanwhile wrote every drive it could; the rebuild is dropped).
func (s *Set) HealObject(ctx context.Context, bucket, key string, deep bool) (HealResult, error) {
	res := HealResult{Bucket: bucket, Key: key}
	// A write's late calls first (see lateWrites): the heal must see what they leave, and
	// waits for them before any lock, so that no write of the key waits with it.
	if err := s.late.wait(ctx, bucket, key); err != nil {
		return res, err
	}
	ctx, unlock, err := s.cfg.Locks.Grant(ctx, nil, []string{LockName(bucket, key)})
	if err != nil {
		return res, err
	}
	// Under the lock, the quorum's answer only: a slow drive's copy is read once the lock
	// is released (readUnread), so that no write of the key waits for it.
	v, err := s.readVersionToRead(ctx, bucket, key)
	for j := 0; err == nil && j < versionCount(v.current); j++ {
		// Pinned, every version's data outlives an overwrite or a delete while the heal
		// reads it.
		if m := versionAt(v.current, j); !m.Inline && m.DataDir != ([16]byte{}) {
			dir := hexID(m.DataDir)
			s.pins.pin(bucket, dir)
			defer s.unpin(bucket, dir)
		}
	}
	unlock()
	if dangling(v, err) {
		return s.removeDangling(ctx, bucket, key)
	}
	if err != nil {
		return res, err
	}
	// The heal writes drives' records and data directories again, naming directories that
	// may be old and, on those drives, unreferenced: claimed (see claimSet), once any
	// removal of them by the collector has ended, until its last drive write has.
	defer s.releaseAfterLateWrites(bucket, key, s.claims.claim(bucket, recordDirs(v.current), true))
	s.readUnread(ctx, bucket, key, v)
	m := v.current
	codec, err := s.codec(m.Erasure.DataShards, m.Erasure.ParityShards, m.Erasure.BlockSize, erasure.BitrotAlgorithm(m.Erasure.Bitrot))
	if err != nil {
		return res, err
	}
	// The noncurrent versions' data first: the latest's heal below may return early.
	older, olderErr := s.healNoncurrent(ctx, bucket, key, v, deep)
	res.Healed = older
	res, err = s.healLatest(ctx, res, bucket, key, v, codec, deep)
	return res, errors.Join(err, olderErr)
}

// healLatest is HealObject's heal of the record and of the latest version's data.
func (s *Set) healLatest(ctx context.Context, res HealResult, bucket, key string, v *version, codec *erasure.Codec, deep bool) (HealResult, error) {
	m := v.current
	targets := s.healTargets(ctx, bucket, v, codec, deep)
	if countTrue(targets) == 0 {
		return res, nil
	}
	good := make([]bool, len(s.drives))
	for i := range good {
		good[i] = v.holds[i] && !targets[i]
	}
	if countTrue(good) < m.Erasure.DataShards {
		return res, fmt.Errorf("%w: healing %s/%s: %d intact copies", objstore.ErrReadQuorum, bucket, key, countTrue(good))
	}
	s.eachOf(targets, func(i int, d storage.Drive) error {
		if err := d.MakeVolume(ctx, bucket); err != nil && !errors.Is(err, storage.ErrVolumeExists) {
			targets[i] = false
		}
		return nil
	})
	var rebuilt *rebuild
	var err error
	switch {
	case !m.Inline && m.DataDir == ([16]byte{}):
		// No data to rebuild (a delete marker): the metadata alone.
		rebuilt = &rebuild{inline: make([][]byte, len(s.drives))}
	case m.Inline:
		rebuilt, err = s.rebuildInline(ctx, v, codec, good, targets)
	default:
		rebuilt, err = s.rebuildParts(ctx, bucket, v, codec, good, targets)
	}
	if err != nil {
		return res, fmt.Errorf("healing %s/%s: %w", bucket, key, err)
	}
	defer rebuilt.discard(context.WithoutCancel(ctx), s)

	ctx, unlock, err := s.cfg.Locks.Grant(ctx, []string{LockName(bucket, key)}, nil)
	if err != nil {
		return res, err
	}
	defer unlock()
	now, err := s.readVersionToRead(ctx, bucket, key)
	if err != nil || now.current.VersionID != m.VersionID {
		return res, nil // replaced or removed meanwhile: nothing of this version to heal
	}
	for i := range targets {
		// A drive whose copy changed meanwhile (healed by another heal) is left as it is;
		// one not read again (slow) is healed to the version it was found to lack.
		targets[i] = targets[i] && (now.unread(i) || now.holds[i] == v.holds[i])
	}
	errs := rebuilt.commit(ctx, s, bucket, key, now, targets)
	for i, e := range errs {
		if targets[i] && e == nil && !slices.Contains(res.Healed, i) {
			res.Healed = append(res.Healed, i)
		}
	}
	slices.Sort(res.Healed)
	return res, errors.Join(nonNil(errs)...)
}

// removeDangling removes, under the key's write lock, the copies of a key that no quorum
// holds or ever can (see dangling): left by a write that failed or was cut off by a crash,
// or by a delete a drive missed; unless a pending intent of the journal names the key (see
// IntentCheck).
func (s *Set) removeDangling(ctx context.Context, bucket, key string) (HealResult, error) {
	res := HealResult{Bucket: bucket, Key: key}
	ctx, unlock, err := s.cfg.Locks.Grant(ctx, []string{LockName(bucket, key)}, nil)
	if err != nil {
		return res, err
	}
	defer unlock()
	v, err := s.readVersion(ctx, bucket, key)
	if !dangling(v, err) {
		return res, nil // written meanwhile, or undecidable: not dangling now
	}
	var on []string
	for i, raw := range v.raw {
		if raw != nil {
			on = append(on, s.drives[i].String())
		}
	}
	if len(on) == 0 {
		return res, nil
	}
	if s.pendingIntent(ctx, bucket, key) {
		// Too few copies to read, because an interrupted operation (a rename within the
		// set) moved the others: its recovery completes it from these copies.
		s.log.Info("heal: leaving a key that a pending journal intent names", "bucket", bucket, "key", key)
		return res, nil
	}
	res.Dangling = true
	s.log.Warn("removing a dangling object: no version of it is on enough drives ever to be read",
		"bucket", bucket, "key", key, "drives", on, "err", err)
	s.removeStale(ctx, bucket, key, v)
	return res, nil
}

// dangling reports whether the key's copies, as v read them with readVersion's err, are
// dangling: no version of it can be read, now or ever. That is so when readVersion found
// it missing, and also when it found no read quorum but every version some drive holds is
// positively missing on more drives than its parity: so many drives answered "not found"
// (or hold another version, or a corrupt record) that even if every drive that did not
// answer held the version, fewer than its data shards' count of drives would. A drive that
// is offline or fails its reads is no answer: while drives are merely unreachable, nothing
// is dangling. (The reference server's rule for dangling objects is the same: not-found
// answers beyond parity, and no other errors deciding.)
func dangling(v *version, err error) bool {
	if errors.Is(err, objstore.ErrObjectNotFound) {
		return true
	}
	if !errors.Is(err, objstore.ErrReadQuorum) || v == nil {
		return false
	}
	seen := 0
	for _, m := range v.decoded {
		if m == nil {
			continue
		}
		seen++
		missing := 0
		for i, other := range v.decoded {
			switch {
			case other != nil && other.VersionID != m.VersionID,
				other == nil && errors.Is(v.errs[i], storage.ErrFileNotFound),
				other == nil && (errors.Is(v.errs[i], meta.ErrCorrupt) || errors.Is(v.errs[i], storage.ErrFileCorrupt)):
				missing++
			}
		}
		if missing <= m.Erasure.ParityShards {
			return false
		}
	}
	return seen > 0
}

// releaseAfterLateWrites calls release once the key's late writes (a heal's commit left
// running on a slow drive, see lateWrites) have ended: at once when there are none.
func (s *Set) releaseAfterLateWrites(bucket, key string, release func()) {
	if s.late.mask(bucket, key) == 0 {
		release()
		return
	}
	go func() {
		defer release()
		// A late call ends when its drive answers or its call times out (package health).
		_ = s.late.wait(context.Background(), bucket, key)
	}()
}

// unpin releases a pin the set took itself, removing what waited for it.
func (s *Set) unpin(bucket, dataDir string) {
	for _, drive := range s.pins.unpin(bucket, dataDir) {
		s.removeDataDir(context.Background(), drive, bucket, dataDir)
	}
}

// healTargets returns the drives, among those that answered, whose copy of the current
// version is missing, stale, unreadable or (deep) corrupt. Shard files of the wrong size or
// (deep) failing their checksums are reported as bitrot.
func (s *Set) healTargets(ctx context.Context, bucket string, v *version, codec *erasure.Codec, deep bool) []bool {
	m := v.current
	targets := make([]bool, len(s.drives))
	// damaged[i] is set when drive i's copy has a damaged shard file: one per drive, since
	// the check of a drive stops at its first bad part.
	damaged := make([]bool, len(s.drives))
	s.each(func(i int, d storage.Drive) error {
		if !v.holds[i] {
			targets[i] = !storage.IsDriveFault(v.errs[i])
			return nil
		}
		if m.Inline {
			if deep {
				if err := codec.VerifyShard(ctx, bytes.NewReader(v.decoded[i].InlineData), m.Size); err != nil {
					targets[i] = true
					damaged[i] = isBitrot(err)
				}
			}
			return nil
		}
		targets[i], damaged[i] = checkParts(ctx, d, bucket, m, codec, deep)
		return nil
	})
	s.reportBitrot(countTrue(damaged))
	return targets
}

// copyFor returns drive i's copy of the key's record as now holds it: the current
// version's metadata and the noncurrent versions, each inline one with drive i's shard of
// it rebuilt from the other drives' shards.
func (s *Set) copyFor(ctx context.Context, now *version, i int) *meta.Object {
	m := now.current
	c := *m
	c.Erasure.Index = int(m.Erasure.Distribution[i])
	c.InlineData = nil
	c.Noncurrent = noncurrentOn(m.Noncurrent, nil, i)
	for j := range c.Noncurrent {
		if c.Noncurrent[j].Inline {
			c.Noncurrent[j].InlineData = s.rebuildInlineShard(ctx, now, &m.Noncurrent[j], i)
		}
	}
	return &c
}

// rebuildInlineShard rebuilds drive target's shard of the inline version m from the
// shards of it that the other drives of now hold. It returns nil, a missing shard that
// the other drives make up for, when fewer than m's data shards are at hand or they do
// not decode: a heal must not fail on an old version it cannot improve.
func (s *Set) rebuildInlineShard(ctx context.Context, now *version, m *meta.Object, target int) []byte {
	codec, err := s.codec(m.Erasure.DataShards, m.Erasure.ParityShards, m.Erasure.BlockSize, erasure.BitrotAlgorithm(m.Erasure.Bitrot))
	if err != nil || len(m.Erasure.Distribution) != len(s.drives) {
		return nil
	}
	shards := make([][]byte, len(s.drives))
	good := make([]bool, len(s.drives))
	for d := range s.drives {
		shards[d] = inlineOn(now, d, m.ID)
		good[d] = d != target && len(shards[d]) > 0
	}
	if countTrue(good) < m.Erasure.DataShards {
		return nil
	}
	targets := make([]bool, len(s.drives))
	targets[target] = true
	rebuilt, err := s.healInline(ctx, codec, m, shards, good, targets)
	if err != nil {
		return nil
	}
	return rebuilt[target]
}

// rebuild is a heal's rebuilt copy of one version for its target drives, waiting for its
// commit: an inline object's shards in memory, or shard files in the staging areas.
type rebuild struct {
	// inline[i] is target drive i's rebuilt inline shard (inline objects).
	inline [][]byte
	// staging is the staging directory of the rebuilt part files; staged marks the drives
	// that hold it (objects with parts).
	staging [16]byte
	staged  []bool
}

func (s *Set) rebuildInline(ctx context.Context, v *version, codec *erasure.Codec, good, targets []bool) (*rebuild, error) {
	shards := make([][]byte, len(s.drives))
	for i := range shards {
		if good[i] {
			shards[i] = v.decoded[i].InlineData
		}
	}
	inline, err := s.healInline(ctx, codec, v.current, shards, good, targets)
	if err != nil {
		return nil, err
	}
	return &rebuild{inline: inline}, nil
}

// healInline rebuilds the inline version m's shards of the target drives from drive i's
// shard shards[i] of each good drive i; out[i] is target drive i's shard.
func (s *Set) healInline(ctx context.Context, codec *erasure.Codec, m *meta.Object, shards [][]byte, good, targets []bool) (out [][]byte, err error) {
	readers := make([]io.ReaderAt, codec.TotalShards())
	writers := make([]io.Writer, codec.TotalShards())
	bufs := make([]bytes.Buffer, len(s.drives))
	for i := range s.drives {
		shard := m.Erasure.Distribution[i]
		if good[i] {
			readers[shard] = bytes.NewReader(shards[i])
		}
		if targets[i] {
			writers[shard] = &bufs[i]
		}
	}
	shardErrs, err := codec.Heal(ctx, readers, writers, m.Size)
	s.reportBitrot(countReadBitrot(shardErrs, writers))
	if err != nil {
		return nil, err
	}
	out = make([][]byte, len(s.drives))
	for i := range bufs {
		if targets[i] {
			out[i] = bufs[i].Bytes()
		}
	}
	return out, nil
}

func (s *Set) rebuildParts(ctx context.Context, bucket string, v *version, codec *erasure.Codec, good, targets []bool) (*rebuild, error) {
	m := v.current
	r := &rebuild{staging: newID(), staged: slices.Clone(targets)}
	for _, p := range m.Parts {
		if err := s.healPart(ctx, bucket, hexID(m.DataDir), stagingDir(r.staging), p, m.Erasure.Distribution, codec, good, r.staged); err != nil {
			r.discard(context.WithoutCancel(ctx), s)
			return nil, fmt.Errorf("part %d: %w", p.Number, err)
		}
	}
	copy(targets, r.staged) // a drive whose staged file failed is healed another time
	return r, nil
}

// commit writes the rebuilt copy of the current version of now to the target drives; the
// caller holds the key's write lock. It returns each drive's outcome.
func (r *rebuild) commit(ctx context.Context, s *Set, bucket, key string, now *version, targets []bool) []error {
	m := now.current
	ctx = context.WithoutCancel(ctx) // a commit runs to its end: see Set.commit
	// A slow drive's heal is not waited for under the lock (see lateWrites): its commit
	// ends in the background, which removes its staging if it failed.
	hedge := hedgedWrite{bucket: bucket, key: key, lateDone: func(i int, err error) {
		if err == nil {
			return
		}
		s.log.Warn("a heal's late commit failed", "drive", s.drives[i].String(), "bucket", bucket, "key", key, "err", err)
		s.dirty[i].Store(true)
		if r.staged != nil {
			s.removeStaged(ctx, oneDrive(len(s.drives), i), stagingDir(r.staging))
		}
	}}
	if r.inline != nil {
		errs := s.eachHedged(targets, hedge, func(i int, d storage.Drive) error {
			c := s.copyFor(ctx, now, i)
			c.InlineData = r.inline[i]
			return d.CommitObject(ctx, bucket, key, c.Marshal(), "", "")
		})
		s.removeReplacedOn(ctx, bucket, now, targets, m)
		return errs
	}
	dataDir := hexID(m.DataDir)
	errs := s.eachHedged(targets, hedge, func(i int, d storage.Drive) error {
		// A partial data directory of this version is in the way of the rebuilt one.
		if err := d.Delete(ctx, bucket, layout.DataDirPath(dataDir), true); err != nil && !errors.Is(err, storage.ErrFileNotFound) {
			return err
		}
		return d.CommitObject(ctx, bucket, key, s.copyFor(ctx, now, i).Marshal(), storage.SysVolume, stagingDir(r.staging))
	})
	for i, err := range errs {
		if errors.Is(err, errLateWrite) && r.staged != nil {
			r.staged[i] = false // the late commit's to move, or lateDone's to remove
		}
	}
	s.removeReplacedOn(ctx, bucket, now, targets, m)
	return errs
}

// readUnread reads the copies of the drives v left unread (a slow drive, or one with a
// late write then in flight) and updates v's view of them, as if they had answered at
// first: the heal, which runs in the background, may wait for them, but not under the
// key's lock.
func (s *Set) readUnread(ctx context.Context, bucket, key string, v *version) {
	which := make([]bool, len(s.drives))
	for i := range which {
		which[i] = v.unread(i)
	}
	if countTrue(which) == 0 {
		return
	}
	s.eachOf(which, func(i int, d storage.Drive) error {
		v.raw[i], v.errs[i] = d.ReadMeta(ctx, bucket, key)
		return nil
	})
	for i := range which {
		if !which[i] || v.errs[i] != nil {
			v.raw[i] = nil
			continue
		}
		var m meta.Object
		if err := m.UnmarshalShared(v.raw[i], v.current); err != nil {
			v.errs[i] = fmt.Errorf("%s: %w", s.drives[i], err)
			v.raw[i] = nil
			continue
		}
		v.decoded[i] = &m
		v.holds[i] = m.VersionID == v.current.VersionID
	}
}

// discard removes what a rebuild staged and did not commit.
func (r *rebuild) discard(ctx context.Context, s *Set) {
	if r.staged != nil {
		s.removeStaged(ctx, r.staged, stagingDir(r.staging))
	}
}

// healPart rebuilds one part's shards of the target drives into their staging directory.
func (s *Set) healPart(ctx context.Context, bucket, dataDir, staging string, p meta.Part, dist []uint8, codec *erasure.Codec, good, targets []bool) error {
	readers := make([]io.ReaderAt, codec.TotalShards())
	var files []storage.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i, d := range s.drives {
		if !good[i] {
			continue
		}
		f, err := d.OpenFile(ctx, bucket, layout.PartPath(dataDir, p.Number))
		if err != nil {
			continue // the decoder reads around a missing shard
		}
		files = append(files, f)
		readers[dist[i]] = f
	}
	out := s.createShardFiles(ctx, targets, dist, staging+"/"+layout.PartName(p.Number), codec.ShardFileSize(p.Size))
	shardErrs, err := codec.Heal(ctx, readers, out.writers, p.Size)
	s.reportBitrot(countReadBitrot(shardErrs, out.writers))
	out.finish(err)
	createErrs := out.errs
	if err != nil {
		return err
	}
	for i, e := range createErrs {
		if targets[i] && e != nil {
			targets[i] = false
		}
	}
	return nil
}

// HealBucket makes every drive agree on whether the bucket exists: created where a quorum
// has it, removed (if empty) where too few have it to be a bucket.
func (s *Set) HealBucket(ctx context.Context, bucket string) error {
	has := make([]bool, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		_, err := d.StatVolume(ctx, bucket)
		has[i] = err == nil
		if errors.Is(err, storage.ErrVolumeNotFound) {
			return nil
		}
		return err
	})
	count := countTrue(has)
	if count >= s.k {
		missing := make([]bool, len(s.drives))
		for i := range missing {
			missing[i] = !has[i] && errs[i] == nil
		}
		errs := s.eachOf(missing, func(i int, d storage.Drive) error {
			// Created meanwhile (by another heal of this set): there, as wanted.
			if err := d.MakeVolume(ctx, bucket); !errors.Is(err, storage.ErrVolumeExists) {
				return err
			}
			return nil
		})
		return errors.Join(nonNil(errs)...)
	}
	if count > 0 {
		s.eachOf(has, func(i int, d storage.Drive) error { return d.DeleteVolume(ctx, bucket, false) })
	}
	return nil
}

// HealAll heals the set's configuration records (HealConfigRecords), then every bucket and
// every object of the set, reporting each object that needed work. With deep, every shard's checksums are verified (every byte is read).
// When it completes without error, the drives' dirty marks are cleared.
func (s *Set) HealAll(ctx context.Context, deep bool, report func(HealResult)) error {
	lists := make([][]string, len(s.drives))
	s.each(func(i int, d storage.Drive) error {
		lists[i], _ = d.ListVolumes(ctx)
		return nil
	})
	var buckets []string
	for _, l := range lists {
		buckets = append(buckets, l...)
	}
	slices.Sort(buckets)
	buckets = slices.Compact(buckets)

	var errs []error
	if n, err := s.HealConfigRecords(ctx); err != nil {
		errs = append(errs, fmt.Errorf("configuration records: %w", err))
	} else if n > 0 {
		s.log.Info("healed configuration records", "copies", n)
	}
	for _, b := range buckets {
		if err := s.HealBucket(ctx, b); err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", b, err))
		}
		err := s.walk(ctx, b, storage.WalkOptions{Recursive: true}, 1, func(e Entry) error {
			res, err := s.HealObject(ctx, b, e.Key, deep)
			if err != nil {
				errs = append(errs, err)
			} else if len(res.Healed) > 0 || res.Dangling {
				report(res)
			}
			return ctxErr(ctx)
		})
		if err != nil && !errors.Is(err, objstore.ErrBucketNotFound) {
			errs = append(errs, fmt.Errorf("bucket %s: %w", b, err))
		}
		if n, err := s.CollectGarbage(ctx, b); errors.Is(err, ErrCollectorOff) {
			// Not here: on a cluster, the set's owner collects.
		} else if err != nil {
			s.log.Warn("collecting unreferenced data", "bucket", b, "err", err)
		} else if n > 0 {
			s.log.Info("collected unreferenced data directories", "bucket", b, "count", n)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, d := range s.drives {
		if _, err := d.DiskInfo(ctx); err == nil {
			s.dirty[i].Store(false)
		}
	}
	return nil
}
