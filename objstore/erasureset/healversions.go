package erasureset

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// healNoncurrent rebuilds the shard files of the key's noncurrent versions that drives
// lack or hold damaged (deep: every block verified), each version on its own, as
// HealObject does the latest's: read with no lock (the version's data pinned), rebuilt
// into the staging areas, moved into place under the key's write lock if the version is
// still in the record. The record itself is HealObject's. It returns the drives that got
// shards back. Inline noncurrent versions (kept from format 1) live in the record: a drive
// whose record HealObject rewrites gets its shard of each rebuilt with it (copyFor); a
// drive that keeps its record keeps what it has.
func (s *Set) healNoncurrent(ctx context.Context, bucket, key string, v *version, deep bool) ([]int, error) {
	var healed []int
	var errs []error
	for i := range v.current.Noncurrent {
		nc := &v.current.Noncurrent[i]
		if nc.DeleteMarker || nc.Inline || nc.DataDir == ([16]byte{}) {
			continue
		}
		drives, err := s.healVersionData(ctx, bucket, key, v, nc, deep)
		if err != nil {
			errs = append(errs, fmt.Errorf("version %s: %w", versionString(nc.ID), err))
		}
		for _, d := range drives {
			if !slices.Contains(healed, d) {
				healed = append(healed, d)
			}
		}
	}
	slices.Sort(healed)
	return healed, errors.Join(errs...)
}

// healVersionData heals the data directory of one version (see healNoncurrent).
func (s *Set) healVersionData(ctx context.Context, bucket, key string, v *version, m *meta.Object, deep bool) ([]int, error) {
	dir := hexID(m.DataDir) // pinned by HealObject
	codec, err := s.codec(m.Erasure.DataShards, m.Erasure.ParityShards, m.Erasure.BlockSize, erasure.BitrotAlgorithm(m.Erasure.Bitrot))
	if err != nil {
		return nil, err
	}
	answered := make([]bool, len(s.drives))
	for i := range answered {
		answered[i] = v.holds[i] || !storage.IsDriveFault(v.errs[i])
	}
	targets := s.partTargets(ctx, bucket, m, codec, answered, deep)
	if countTrue(targets) == 0 {
		return nil, nil
	}
	good := make([]bool, len(s.drives))
	for i := range good {
		good[i] = answered[i] && !targets[i]
	}
	if countTrue(good) < m.Erasure.DataShards {
		return nil, fmt.Errorf("%d intact copies of its data", countTrue(good))
	}
	r := &rebuild{staging: newID(), staged: slices.Clone(targets)}
	defer r.discard(context.WithoutCancel(ctx), s)
	for _, p := range m.Parts {
		if err := s.healPart(ctx, bucket, dir, stagingDir(r.staging), p, m.Erasure.Distribution, codec, good, r.staged); err != nil {
			return nil, fmt.Errorf("part %d: %w", p.Number, err)
		}
	}
	ctx, unlock, err := s.cfg.Locks.Grant(ctx, []string{LockName(bucket, key)}, nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now, err := s.readVersion(ctx, bucket, key)
	if err != nil {
		return nil, nil // removed meanwhile
	}
	if j := findVersion(now.current, m.ID); j < 0 || versionAt(now.current, j).DataDir != m.DataDir {
		return nil, nil // the version went meanwhile: nothing of it to heal
	}
	var healed []int
	cctx := context.WithoutCancel(ctx) // a commit runs to its end: see Set.commit
	errs := s.eachOf(r.staged, func(i int, d storage.Drive) error {
		// A partial directory of this version is in the way of the rebuilt one.
		if err := d.Delete(cctx, bucket, layout.DataDirPath(dir), true); err != nil && !errors.Is(err, storage.ErrFileNotFound) {
			return err
		}
		return d.RenameFile(cctx, storage.SysVolume, stagingDir(r.staging), bucket, layout.DataDirPath(dir))
	})
	for i, e := range errs {
		if r.staged[i] && e == nil {
			healed = append(healed, i)
		}
	}
	return healed, errors.Join(nonNil(errs)...)
}

// partTargets returns, among the drives marked in which, those whose shard files of
// version m are missing, of the wrong size or (deep) failing their checksums; damage is
// reported as bitrot.
func (s *Set) partTargets(ctx context.Context, bucket string, m *meta.Object, codec *erasure.Codec, which []bool, deep bool) []bool {
	targets := make([]bool, len(s.drives))
	damaged := make([]bool, len(s.drives))
	s.eachOf(which, func(i int, d storage.Drive) error {
		targets[i], damaged[i] = checkParts(ctx, d, bucket, m, codec, deep)
		return nil
	})
	s.reportBitrot(countTrue(damaged))
	return targets
}

// checkParts checks one drive's shard files of version m: bad when one is missing, of the
// wrong size (cut short or grown: damage found without reading it) or (deep) failing its
// checksums, rotten for the damage that is bitrot. A drive fault is neither: the drive is
// healed when it returns.
func checkParts(ctx context.Context, d storage.Drive, bucket string, m *meta.Object, codec *erasure.Codec, deep bool) (bad, rotten bool) {
	for _, p := range m.Parts {
		f, err := d.OpenFile(ctx, bucket, layout.PartPath(hexID(m.DataDir), p.Number))
		if err != nil {
			return !storage.IsDriveFault(err), false
		}
		bad = f.Size() != codec.ShardFileSize(p.Size)
		rotten = bad
		if !bad && deep {
			if err := codec.VerifyShard(ctx, f, p.Size); err != nil {
				bad, rotten = true, isBitrot(err)
			}
		}
		f.Close()
		if bad {
			return bad, rotten
		}
	}
	return false, false
}
