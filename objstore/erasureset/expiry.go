package erasureset

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// The expiry of incomplete multipart uploads (package pool's ExpireUploads) finds uploads
// here and removes them with RemoveUpload, under the upload's write lock, as an abort does.

// uploadsRoot is the system volume's directory of multipart uploads.
const uploadsRoot = "multipart"

// UploadBuckets returns the names under which any drive of the set holds multipart uploads:
// the buckets with uploads in progress, and any bucket whose uploads a drive kept when the
// bucket was deleted while it was away.
func (s *Set) UploadBuckets(ctx context.Context) ([]string, error) {
	lists := make([][]string, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		names, err := d.ListDir(ctx, storage.SysVolume, uploadsRoot)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		for _, n := range names {
			lists[i] = append(lists[i], strings.TrimSuffix(n, "/"))
		}
		return err
	})
	if countNil(errs) < s.k {
		return nil, reduceErr(errs, objstore.ErrReadQuorum)
	}
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// StaleUploads returns up to limit uploads of bucket initiated before cutoff, in the order
// of their directories. Unlike ListMultipartUploads it also returns an upload that fewer
// drives than a read quorum hold (what an abort or a completion leaves on a drive that was
// away): its age is that drive's record's. An upload with no readable record is skipped.
func (s *Set) StaleUploads(ctx context.Context, bucket string, cutoff time.Time, limit int) ([]objstore.UploadInfo, error) {
	holders, err := s.uploadHolders(ctx, bucket)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(holders))
	for p := range holders {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var out []objstore.UploadInfo
	for _, p := range paths {
		if len(out) >= limit {
			break
		}
		if err := ctxErr(ctx); err != nil {
			return out, err
		}
		for _, i := range holders[p] {
			u, err := s.readUploadRecord(ctx, s.drives[i], bucket, p)
			if err != nil {
				continue
			}
			// The record must name the directory it is in: RemoveUpload finds the
			// directory from the record's key and id.
			if u.Initiated.Before(cutoff) && uploadDir(bucket, u.Key, u.UploadID) == uploadsDir(bucket)+"/"+p {
				out = append(out, objstore.UploadInfo{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
			}
			break
		}
	}
	return out, nil
}

// RemoveUpload removes an upload and its parts from every drive that holds it, however few
// do. It reports whether any drive held it: false when a completion or an abort came first.
// The caller holds the upload's write lock.
func (s *Set) RemoveUpload(ctx context.Context, bucket, key, uploadID string) (bool, error) {
	if !validUploadID(uploadID) {
		return false, nil
	}
	held, err := s.removeUploadDir(ctx, bucket, key, uploadID)
	return held > 0, err
}

// removeUploadDir deletes an upload's directory from every drive. It returns how many
// drives held it, and ErrWriteQuorum unless a write quorum of drives no longer does.
func (s *Set) removeUploadDir(ctx context.Context, bucket, key, uploadID string) (int, error) {
	dir := uploadDir(bucket, key, uploadID)
	held := make([]bool, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		err := d.Delete(ctx, storage.SysVolume, dir, true)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		held[i] = err == nil
		return err
	})
	if countNil(errs) < WriteQuorum(s.k, s.m) {
		return countTrue(held), reduceErr(errs, objstore.ErrWriteQuorum)
	}
	return countTrue(held), nil
}

// uploadHolders lists the uploads of bucket on every drive: for each directory
// "<sha256 of key>/<upload id>", the drives that hold it, in position order. It fails
// unless a read quorum of drives could be listed.
func (s *Set) uploadHolders(ctx context.Context, bucket string) (map[string][]int, error) {
	perDrive := make([][]string, len(s.drives))
	errs := s.each(func(i int, d storage.Drive) error {
		keyDirs, err := d.ListDir(ctx, storage.SysVolume, uploadsDir(bucket))
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, kd := range keyDirs {
			kd = strings.TrimSuffix(kd, "/")
			ids, _ := d.ListDir(ctx, storage.SysVolume, uploadsDir(bucket)+"/"+kd)
			for _, id := range ids {
				perDrive[i] = append(perDrive[i], kd+"/"+strings.TrimSuffix(id, "/"))
			}
		}
		return nil
	})
	if countNil(errs) < s.k {
		return nil, reduceErr(errs, objstore.ErrReadQuorum)
	}
	holders := make(map[string][]int)
	for i, paths := range perDrive {
		for _, p := range paths {
			holders[p] = append(holders[p], i)
		}
	}
	return holders, nil
}

// readUploadRecord reads the record of the upload in directory path (relative to the
// bucket's uploads) from one drive.
func (s *Set) readUploadRecord(ctx context.Context, d storage.Drive, bucket, path string) (*meta.Upload, error) {
	b, err := d.ReadFile(ctx, storage.SysVolume, uploadsDir(bucket)+"/"+path+"/upload")
	if err != nil {
		return nil, err
	}
	return meta.UnmarshalUpload(b)
}
