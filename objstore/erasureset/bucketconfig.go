package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// bucketsRoot is the directory of the system volume that holds the bucket configuration
// records, one directory per bucket.
const bucketsRoot = "buckets"

func bucketConfigDir(bucket string) string  { return bucketsRoot + "/" + bucket }
func bucketConfigPath(bucket string) string { return bucketConfigDir(bucket) + "/config" }

// ReadBucketConfig returns the bucket's configuration record as a read quorum of drives
// holds it: the newest record that at least k drives hold byte for byte. A bucket whose
// record most drives lack has none: an empty record, not an error. A drive's unreadable or
// corrupt copy counts as neither. ErrReadQuorum when no record can be decided.
func (s *Set) ReadBucketConfig(ctx context.Context, bucket string) (*meta.BucketConfig, error) {
	c, err := s.readConfigRecord(ctx, bucketConfigPath(bucket))
	if err != nil {
		return nil, fmt.Errorf("bucket %s config: %w", bucket, err)
	}
	return c, nil
}

// readConfigRecord reads a configuration record of the system volume as ReadBucketConfig
// tells.
func (s *Set) readConfigRecord(ctx context.Context, path string) (*meta.BucketConfig, error) {
	c, _, _, errs := s.decideConfigRecord(ctx, path)
	if c == nil {
		return nil, errs[0]
	}
	return c, nil
}

// decideConfigRecord reads a configuration record from every drive and decides it as
// ReadBucketConfig tells; it also returns the decided record's bytes (nil when no drive
// quorum holds one: an empty record or an error) and each drive's copy (nil: none or
// unreadable) with its error.
func (s *Set) decideConfigRecord(ctx context.Context, path string) (*meta.BucketConfig, []byte, [][]byte, []error) {
	raw := make([][]byte, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		b, err := d.ReadFile(ctx, storage.SysVolume, path)
		raw[i] = b
		return err
	})
	missing := 0
	var best *meta.BucketConfig
	var bestRaw []byte
	for i, err := range errs {
		if errors.Is(err, storage.ErrFileNotFound) {
			missing++
			continue
		}
		if err != nil {
			continue
		}
		c, err := meta.UnmarshalBucketConfig(raw[i])
		if err != nil {
			errs[i] = err
			continue
		}
		same := 0
		for _, other := range raw {
			if bytes.Equal(other, raw[i]) {
				same++
			}
		}
		if same >= s.k && (best == nil || c.Updated.After(best.Updated)) {
			best, bestRaw = c, raw[i]
		}
	}
	if best != nil {
		return best, bestRaw, raw, errs
	}
	if missing >= s.k {
		return &meta.BucketConfig{}, nil, raw, errs
	}
	return nil, nil, raw, []error{reduceErr(errs, objstore.ErrReadQuorum)}
}

// WriteBucketConfig replaces the bucket's configuration record on every drive, durably; it
// fails with ErrWriteQuorum unless a write quorum of drives took it. The caller serialises
// writers of one bucket.
func (s *Set) WriteBucketConfig(ctx context.Context, bucket string, c *meta.BucketConfig) error {
	b := c.Marshal()
	errs := s.each(func(i int, d storage.Drive) error {
		return d.WriteFile(ctx, storage.SysVolume, bucketConfigPath(bucket), b)
	})
	return s.writeOutcome(errs)
}

// RemoveBucketConfig removes the bucket's configuration record from every drive that has
// one (a bucket being deleted, or one created where a deleted bucket's record was left
// behind by an offline drive).
func (s *Set) RemoveBucketConfig(ctx context.Context, bucket string) error {
	errs := s.each(func(i int, d storage.Drive) error {
		err := d.Delete(ctx, storage.SysVolume, bucketConfigDir(bucket), true)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		return err
	})
	return s.writeOutcome(errs)
}

// writeOutcome is the outcome of a write made on every drive: ErrWriteQuorum (or what the
// drives' errors reduce to) unless a write quorum of drives took it; else nil, with the
// drives that missed it marked for healing.
func (s *Set) writeOutcome(errs []error) error {
	if countNil(errs) < WriteQuorum(s.k, s.m) {
		return reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	return nil
}
