package erasureset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
)

// MakeBucket creates the bucket's volume on every drive. A drive that already has it
// counts as done; if a quorum already had it, the bucket existed: ErrBucketExists.
func (s *Set) MakeBucket(ctx context.Context, bucket string) error {
	errs := s.each(func(i int, d storage.Drive) error { return d.MakeVolume(ctx, bucket) })
	existed := 0
	for i, err := range errs {
		if errors.Is(err, storage.ErrVolumeExists) {
			existed++
			errs[i] = nil
		}
	}
	wq := WriteQuorum(s.k, s.m)
	if existed >= wq {
		return fmt.Errorf("%w: %s", objstore.ErrBucketExists, bucket)
	}
	if countNil(errs) < wq {
		return reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	return nil
}

// DeleteBucket removes the bucket's volume from every drive: ErrBucketNotEmpty if a
// drive holds an object in it (then nothing is removed), unless force.
func (s *Set) DeleteBucket(ctx context.Context, bucket string, force bool) error {
	if !force {
		if err := s.CheckEmpty(ctx, bucket); err != nil {
			return err
		}
	}
	errs := s.each(func(i int, d storage.Drive) error {
		// Uploads in progress and the configuration record go with their bucket.
		for _, dir := range [...]string{uploadsDir(bucket), bucketConfigDir(bucket)} {
			if err := d.Delete(ctx, storage.SysVolume, dir, true); err != nil && !errors.Is(err, storage.ErrFileNotFound) {
				return err
			}
		}
		err := d.DeleteVolume(ctx, bucket, true)
		if errors.Is(err, storage.ErrVolumeNotFound) {
			return nil
		}
		return err
	})
	return s.writeOutcome(errs)
}

// CheckEmpty fails with ErrBucketNotEmpty if any drive holds an object of the bucket that a
// read quorum would see, or ErrReadQuorum if too few drives could be asked.
func (s *Set) CheckEmpty(ctx context.Context, bucket string) error {
	found := false
	err := s.Walk(ctx, bucket, storage.WalkOptions{Recursive: true}, func(e Entry) error {
		found = true
		return errStopWalk
	})
	if err != nil && !errors.Is(err, errStopWalk) && !errors.Is(err, objstore.ErrBucketNotFound) {
		return err
	}
	if found {
		return fmt.Errorf("%w: %s", objstore.ErrBucketNotEmpty, bucket)
	}
	return nil
}

// BucketCreated returns when the bucket was created, from a read quorum of drives:
// ErrBucketNotFound if most drives have no such volume.
func (s *Set) BucketCreated(ctx context.Context, bucket string) (time.Time, error) {
	// Every request checks its bucket: slow drives are not waited for, unless the others
	// cannot decide.
	t, err := s.bucketCreated(ctx, bucket, true)
	if errors.Is(err, errLateWrite) {
		t, err = s.bucketCreated(ctx, bucket, false)
	}
	return t, err
}

// bucketCreated is BucketCreated, with hedge as readVersionToRead's: when it left a slow
// drive unasked and could not decide, its error wraps errLateWrite.
func (s *Set) bucketCreated(ctx context.Context, bucket string, hedge bool) (time.Time, error) {
	times := make([]time.Time, len(s.drives))
	stat := func(i int, d storage.Drive) error {
		t, err := d.StatVolume(ctx, bucket)
		times[i] = t
		return err
	}
	var errs []error
	if hedge {
		errs = s.eachHedged(nil, hedgedWrite{unordered: true}, stat)
	} else {
		errs = s.each(stat)
	}
	missing := 0
	var found []time.Time
	for i, err := range errs {
		switch {
		case err == nil:
			found = append(found, times[i])
		case errors.Is(err, storage.ErrVolumeNotFound):
			missing++
		}
	}
	if len(found) >= s.k {
		// Drives may disagree by the time it took to create the volume on each; the
		// earliest is the bucket's creation.
		return slices.MinFunc(found, func(a, b time.Time) int { return a.Compare(b) }), nil
	}
	if missing > len(s.drives)-s.k {
		return time.Time{}, fmt.Errorf("%w: %s", objstore.ErrBucketNotFound, bucket)
	}
	err := reduceErr(errs, objstore.ErrReadQuorum)
	if slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, errLateWrite) }) {
		err = fmt.Errorf("%w: %w", errLateWrite, err)
	}
	return time.Time{}, err
}

// ListBuckets returns the buckets a read quorum of drives has.
func (s *Set) ListBuckets(ctx context.Context) ([]string, error) {
	lists := make([][]string, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		var err error
		lists[i], err = d.ListVolumes(ctx)
		return err
	})
	if countNil(errs) < s.k {
		return nil, reduceErr(errs, objstore.ErrReadQuorum)
	}
	count := make(map[string]int)
	for _, l := range lists {
		for _, b := range l {
			count[b]++
		}
	}
	var names []string
	for b, c := range count {
		if c >= s.k {
			names = append(names, b)
		}
	}
	slices.Sort(names)
	return names, nil
}
