package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
)

// DiskInfo reports the capacity of the file system the drive lives on.
func (d *Drive) DiskInfo(ctx context.Context) (storage.DiskInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(d.root, &st); err != nil {
		return storage.DiskInfo{}, fmt.Errorf("statfs %s: %w", d.root, mapErr(&fs.PathError{Op: "statfs", Path: d.root, Err: err}))
	}
	bsize := uint64(st.Bsize)
	return storage.DiskInfo{
		Endpoint:  d.root,
		Total:     st.Blocks * bsize,
		Free:      st.Bavail * bsize,
		Used:      (st.Blocks - st.Bfree) * bsize,
		Files:     st.Files,
		FreeFiles: st.Ffree,
		Online:    true,
	}, nil
}

// ReadFormat returns the drive's format record.
func (d *Drive) ReadFormat(ctx context.Context) ([]byte, error) {
	b, err := os.ReadFile(d.root + "/" + storage.SysVolume + "/" + formatFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", storage.ErrUnformatted, d.root)
	}
	if err != nil {
		return nil, fmt.Errorf("read format of %s: %w", d.root, mapErr(err))
	}
	return b, nil
}

// WriteFormat replaces the drive's format record atomically.
func (d *Drive) WriteFormat(ctx context.Context, format []byte) error {
	if err := d.replaceFile(ctx, d.root+"/"+storage.SysVolume+"/"+formatFile, format); err != nil {
		return fmt.Errorf("write format of %s: %w", d.root, err)
	}
	return nil
}

// MakeVolume creates a bucket's directory and records its creation time.
func (d *Drive) MakeVolume(ctx context.Context, volume string) error {
	vp, err := d.volumePath(volume)
	if err != nil {
		return err
	}
	if volume == storage.SysVolume {
		return fmt.Errorf("%w: %s", storage.ErrVolumeExists, volume)
	}
	if err := os.Mkdir(vp, dataDirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s on %s", storage.ErrVolumeExists, volume, d.root)
		}
		return fmt.Errorf("make volume %s on %s: %w", volume, d.root, mapErr(err))
	}
	created := time.Now().UTC().AppendFormat(nil, time.RFC3339Nano)
	if err := d.replaceFile(ctx, vp+"/"+layout.BucketMetaFile, created); err != nil {
		os.RemoveAll(vp)
		return fmt.Errorf("make volume %s on %s: %w", volume, d.root, err)
	}
	if err := syncDir(d.root); err != nil {
		return fmt.Errorf("make volume %s on %s: %w", volume, d.root, mapErr(err))
	}
	return nil
}

// StatVolume returns when a bucket's volume was created.
func (d *Drive) StatVolume(ctx context.Context, volume string) (time.Time, error) {
	vp, err := d.volumePath(volume)
	if err != nil {
		return time.Time{}, err
	}
	fi, err := os.Stat(vp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, fmt.Errorf("%w: %s on %s", storage.ErrVolumeNotFound, volume, d.root)
		}
		return time.Time{}, fmt.Errorf("stat volume %s on %s: %w", volume, d.root, mapErr(err))
	}
	if b, err := os.ReadFile(vp + "/" + layout.BucketMetaFile); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, string(bytes.TrimSpace(b))); err == nil {
			return t, nil
		}
	}
	// A crash between the mkdir and the record leaves no record: the directory's time is
	// the next best answer.
	return fi.ModTime().UTC(), nil
}

// ListVolumes returns the buckets' volumes.
func (d *Drive) ListVolumes(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("list volumes of %s: %w", d.root, mapErr(err))
	}
	var vols []string
	for _, e := range entries {
		if e.IsDir() && layout.CheckBucketName(e.Name()) == nil {
			vols = append(vols, e.Name())
		}
	}
	return vols, nil
}

// DeleteVolume removes a bucket's volume.
func (d *Drive) DeleteVolume(ctx context.Context, volume string, force bool) error {
	vp, err := d.volumePath(volume)
	if err != nil {
		return err
	}
	if volume == storage.SysVolume {
		return fmt.Errorf("%w: the system volume cannot be deleted", storage.ErrInvalidPath)
	}
	if _, err := os.Stat(vp); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s on %s", storage.ErrVolumeNotFound, volume, d.root)
	}
	if err := d.settle(volume, "", true); err != nil {
		return err
	}
	if !force {
		has, err := hasObjects(vp, maxDepth)
		if err != nil {
			return fmt.Errorf("delete volume %s on %s: %w", volume, d.root, mapErr(err))
		}
		if has {
			return fmt.Errorf("%w: %s on %s", storage.ErrVolumeNotEmpty, volume, d.root)
		}
	}
	if err := d.removeTree(vp); err != nil {
		return fmt.Errorf("delete volume %s on %s: %w", volume, d.root, mapErr(err))
	}
	if d.redo != nil {
		// A commit that found the bucket before it went: its file goes with the bucket.
		d.redo.dropUnder(volume)
	}
	if err := syncDir(d.root); err != nil {
		return fmt.Errorf("delete volume %s on %s: %w", volume, d.root, mapErr(err))
	}
	return nil
}

// maxDepth bounds the depth of a bucket's directory tree: a key of 1024 slashes has 1025
// segments.
const maxDepth = layout.MaxKeyLength + 1

// hasObjects reports whether the tree at dir holds an object's metadata file, searching at
// most depth levels down (a deeper tree is reported as holding objects rather than searched
// without end). Internal names (the data area, the bucket record) are skipped.
func hasObjects(dir string, depth int) (bool, error) {
	if depth == 0 {
		return true, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, layout.MetaSuffix) && !e.IsDir() {
			return true, nil
		}
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == layout.DataDir {
			continue
		}
		if _, ok := layout.DecodeSegment(name); !ok {
			continue
		}
		has, err := hasObjects(dir+"/"+name, depth-1)
		if has || err != nil {
			return has, err
		}
	}
	return false, nil
}
