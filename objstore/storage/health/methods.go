package health

import (
	"context"
	"io"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// The storage.Drive methods, each through bounded (or unbounded for the streaming ones).

func (d *Drive) DiskInfo(ctx context.Context) (storage.DiskInfo, error) {
	info, err := boundedFunc(d, ctx, d.inner.DiskInfo)
	info.Online = err == nil
	return info, err
}

func (d *Drive) ReadFormat(ctx context.Context) ([]byte, error) {
	return boundedFunc(d, ctx, d.inner.ReadFormat)
}

func (d *Drive) WriteFormat(ctx context.Context, format []byte) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.WriteFormat(ctx, format) })
}

func (d *Drive) MakeVolume(ctx context.Context, volume string) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.MakeVolume(ctx, volume) })
}

func (d *Drive) StatVolume(ctx context.Context, volume string) (time.Time, error) {
	return boundedFunc(d, ctx, func(ctx context.Context) (time.Time, error) { return d.inner.StatVolume(ctx, volume) })
}

func (d *Drive) ListVolumes(ctx context.Context) ([]string, error) {
	return boundedFunc(d, ctx, d.inner.ListVolumes)
}

func (d *Drive) DeleteVolume(ctx context.Context, volume string, force bool) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.DeleteVolume(ctx, volume, force) })
}

func (d *Drive) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	return d.unbounded(func() error { return d.inner.CreateFile(ctx, volume, path, size, r) })
}

// pathArgs are the inputs of a bounded call on one path of a drive.
type pathArgs struct {
	d            storage.Drive
	volume, path string
}

func (d *Drive) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	f, err := bounded(d, ctx, &d.calls.openFile, func(ctx context.Context, a pathArgs) (storage.File, error) {
		return a.d.OpenFile(ctx, a.volume, a.path)
	}, pathArgs{d.inner, volume, path})
	if err != nil {
		return nil, err
	}
	return &file{File: f, d: d}, nil
}

func (d *Drive) ReadFile(ctx context.Context, volume, path string) ([]byte, error) {
	return boundedFunc(d, ctx, func(ctx context.Context) ([]byte, error) { return d.inner.ReadFile(ctx, volume, path) })
}

func (d *Drive) WriteFile(ctx context.Context, volume, path string, data []byte) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.WriteFile(ctx, volume, path, data) })
}

func (d *Drive) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	return d.boundedErr(ctx, func(ctx context.Context) error {
		return d.inner.RenameFile(ctx, srcVolume, srcPath, dstVolume, dstPath)
	})
}

func (d *Drive) Delete(ctx context.Context, volume, path string, recursive bool) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.Delete(ctx, volume, path, recursive) })
}

func (d *Drive) ListDir(ctx context.Context, volume, dir string) ([]string, error) {
	return boundedFunc(d, ctx, func(ctx context.Context) ([]string, error) { return d.inner.ListDir(ctx, volume, dir) })
}

func (d *Drive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	return bounded(d, ctx, &d.calls.readMeta, func(ctx context.Context, a pathArgs) ([]byte, error) {
		return a.d.ReadMeta(ctx, a.volume, a.path)
	}, pathArgs{d.inner, bucket, key})
}

func (d *Drive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	return d.boundedErr(ctx, func(ctx context.Context) error {
		return d.inner.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
	})
}

func (d *Drive) DeleteObject(ctx context.Context, bucket, key string) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.DeleteObject(ctx, bucket, key) })
}

func (d *Drive) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	return d.boundedErr(ctx, func(ctx context.Context) error { return d.inner.RenameObject(ctx, bucket, srcKey, dstKey) })
}

func (d *Drive) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	return d.unbounded(func() error { return d.inner.Walk(ctx, bucket, opts, fn) })
}
