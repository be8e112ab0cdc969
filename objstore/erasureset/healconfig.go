package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/objstore/storage"
)

// HealConfigRecords rewrites the small records of the system volume (the buckets'
// configuration records and the deployment's own, such as the IAM identities) onto every
// drive whose copy is missing, unreadable, corrupt or older than the record a read quorum
// holds, so that losing a drive does not bring a record nearer to losing its quorum. A
// record no quorum holds (one that a delete removed from most drives) is left alone:
// RemoveBucketConfig clears its leftovers. It returns how many copies it wrote.
//
// It takes no lock: a writer that replaces a record while it runs may see a drive that
// was stale get the older copy back; the record's quorum keeps the newer one, and the
// next heal spreads it.
func (s *Set) HealConfigRecords(ctx context.Context) (int, error) {
	paths, err := s.configRecordPaths(ctx)
	if err != nil {
		return 0, err
	}
	healed := 0
	var errs []error
	for _, path := range paths {
		n, err := s.healConfigRecord(ctx, path)
		healed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("record %s: %w", path, err))
		}
		if err := ctx.Err(); err != nil {
			return healed, err
		}
	}
	return healed, errors.Join(errs...)
}

// healConfigRecord writes the record at path, as a quorum decides it, onto each drive that
// answered but lacks those bytes.
func (s *Set) healConfigRecord(ctx context.Context, path string) (int, error) {
	best, bestRaw, raw, errs := s.decideConfigRecord(ctx, path)
	if best == nil {
		return 0, errs[0]
	}
	if bestRaw == nil {
		return 0, nil // no quorum holds a record: nothing to spread
	}
	stale := make([]bool, len(s.drives))
	for i := range raw {
		// A drive that could not be read at all (offline) is left for a later heal; one
		// that answered without these bytes (missing, corrupt, older) is rewritten.
		stale[i] = !bytes.Equal(raw[i], bestRaw) && !isDriveErr(errs[i])
	}
	werrs := s.eachOf(stale, func(i int, d storage.Drive) error {
		return d.WriteFile(ctx, storage.SysVolume, path, bestRaw)
	})
	n := 0
	for i, err := range werrs {
		if stale[i] && err == nil {
			n++
		}
	}
	return n, errors.Join(nonNil(werrs)...)
}

// isDriveErr reports whether err is the failure of a drive rather than of its copy.
func isDriveErr(err error) bool {
	return errors.Is(err, storage.ErrDriveOffline) || errors.Is(err, storage.ErrTimeout) || errors.Is(err, storage.ErrUnformatted) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// configRecordPaths lists the records of the system volume on every drive: buckets/*/config
// and system/*/config.
func (s *Set) configRecordPaths(ctx context.Context) ([]string, error) {
	var paths []string
	for _, root := range []string{bucketsRoot, systemRoot} {
		lists := make([][]string, len(s.drives))
		errs := s.each(func(i int, d storage.Drive) error {
			names, err := d.ListDir(ctx, storage.SysVolume, root)
			lists[i] = names
			if errors.Is(err, storage.ErrFileNotFound) {
				return nil
			}
			return err
		})
		if countNil(errs) == 0 && len(errs) > 0 {
			return nil, fmt.Errorf("listing %s: %w", root, errors.Join(nonNil(errs)...))
		}
		for _, names := range lists {
			for _, name := range names {
				if dir, ok := strings.CutSuffix(name, "/"); ok && dir != "" {
					paths = append(paths, root+"/"+dir+"/config")
				}
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}
