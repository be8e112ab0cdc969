// Package faulty wraps a drive to inject faults for tests: any method can be made to fail
// with a chosen error, to stall until released or to answer late, so that tests can check what the object
// core does when a drive misbehaves.
package faulty

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Drive is a drive with injectable faults.
type Drive struct {
	inner storage.Drive
	mu    sync.Mutex
	// rules maps a method name ("ReadMeta", "CreateFile", ... or "*" for all) to its
	// fault; guarded by mu. "CreateFile.after" faults the answer of a CreateFile that
	// has written its file.
	rules map[string]rule
}

type rule struct {
	err   error
	stall <-chan struct{}
	// entered, if set, receives a value (if it has room) as each stalled call begins.
	entered chan<- struct{}
	delay   time.Duration
}

var _ storage.Drive = (*Drive)(nil)

// Wrap returns d with no faults set.
func Wrap(d storage.Drive) *Drive { return &Drive{inner: d, rules: make(map[string]rule)} }

// Fail makes method (or "*") return err until Clear.
func (d *Drive) Fail(method string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[method] = rule{err: err}
}

// Stall makes method (or "*") block until release is closed, then run normally.
func (d *Drive) Stall(method string, release <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[method] = rule{stall: release}
}

// StallAndTell is Stall, and sends on entered (when it has room, never blocking) as each
// stalled call begins: a test learns that the call is waiting.
func (d *Drive) StallAndTell(method string, release <-chan struct{}, entered chan<- struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[method] = rule{stall: release, entered: entered}
}

// StallThenFail makes method (or "*") block until release is closed, then return err
// without running: a slow drive whose call fails in the end.
func (d *Drive) StallThenFail(method string, release <-chan struct{}, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[method] = rule{stall: release, err: err}
}

// Delay makes method (or "*") wait d, then run normally: a slow drive.
func (d *Drive) Delay(method string, delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[method] = rule{delay: delay}
}

// Clear removes every fault.
func (d *Drive) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = make(map[string]rule)
}

func (d *Drive) before(method string) error {
	d.mu.Lock()
	r, ok := d.rules[method]
	if !ok {
		r, ok = d.rules["*"]
	}
	d.mu.Unlock()
	if !ok {
		return nil
	}
	return r.apply()
}

// after applies the rule set for method+".after" (never "*"'s): the fault of a call's
// answer, once the call ran.
func (d *Drive) after(method string) error {
	d.mu.Lock()
	r, ok := d.rules[method+".after"]
	d.mu.Unlock()
	if !ok {
		return nil
	}
	return r.apply()
}

func (r rule) apply() error {
	if r.stall != nil {
		if r.entered != nil {
			select {
			case r.entered <- struct{}{}:
			default:
			}
		}
		<-r.stall
		return r.err
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
		return nil
	}
	return r.err
}

func (d *Drive) String() string { return d.inner.String() }

func (d *Drive) DiskInfo(ctx context.Context) (storage.DiskInfo, error) {
	if err := d.before("DiskInfo"); err != nil {
		return storage.DiskInfo{}, err
	}
	return d.inner.DiskInfo(ctx)
}

func (d *Drive) ReadFormat(ctx context.Context) ([]byte, error) {
	if err := d.before("ReadFormat"); err != nil {
		return nil, err
	}
	return d.inner.ReadFormat(ctx)
}

func (d *Drive) WriteFormat(ctx context.Context, format []byte) error {
	if err := d.before("WriteFormat"); err != nil {
		return err
	}
	return d.inner.WriteFormat(ctx, format)
}

func (d *Drive) MakeVolume(ctx context.Context, volume string) error {
	if err := d.before("MakeVolume"); err != nil {
		return err
	}
	return d.inner.MakeVolume(ctx, volume)
}

func (d *Drive) StatVolume(ctx context.Context, volume string) (time.Time, error) {
	if err := d.before("StatVolume"); err != nil {
		return time.Time{}, err
	}
	return d.inner.StatVolume(ctx, volume)
}

func (d *Drive) ListVolumes(ctx context.Context) ([]string, error) {
	if err := d.before("ListVolumes"); err != nil {
		return nil, err
	}
	return d.inner.ListVolumes(ctx)
}

func (d *Drive) DeleteVolume(ctx context.Context, volume string, force bool) error {
	if err := d.before("DeleteVolume"); err != nil {
		return err
	}
	return d.inner.DeleteVolume(ctx, volume, force)
}

func (d *Drive) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	if err := d.before("CreateFile"); err != nil {
		return err
	}
	err := d.inner.CreateFile(ctx, volume, path, size, r)
	// "CreateFile.after" faults the answer of a call that has written its file: a drive
	// slow to answer once it has taken the body, as a remote drive behind a slow link.
	if aerr := d.after("CreateFile"); aerr != nil && err == nil {
		err = aerr
	}
	return err
}

func (d *Drive) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	if err := d.before("OpenFile"); err != nil {
		return nil, err
	}
	return d.inner.OpenFile(ctx, volume, path)
}

func (d *Drive) ReadFile(ctx context.Context, volume, path string) ([]byte, error) {
	if err := d.before("ReadFile"); err != nil {
		return nil, err
	}
	return d.inner.ReadFile(ctx, volume, path)
}

func (d *Drive) WriteFile(ctx context.Context, volume, path string, data []byte) error {
	if err := d.before("WriteFile"); err != nil {
		return err
	}
	return d.inner.WriteFile(ctx, volume, path, data)
}

func (d *Drive) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	if err := d.before("RenameFile"); err != nil {
		return err
	}
	return d.inner.RenameFile(ctx, srcVolume, srcPath, dstVolume, dstPath)
}

func (d *Drive) Delete(ctx context.Context, volume, path string, recursive bool) error {
	if err := d.before("Delete"); err != nil {
		return err
	}
	return d.inner.Delete(ctx, volume, path, recursive)
}

func (d *Drive) ListDir(ctx context.Context, volume, dir string) ([]string, error) {
	if err := d.before("ListDir"); err != nil {
		return nil, err
	}
	return d.inner.ListDir(ctx, volume, dir)
}

func (d *Drive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := d.before("ReadMeta"); err != nil {
		return nil, err
	}
	return d.inner.ReadMeta(ctx, bucket, key)
}

func (d *Drive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	if err := d.before("CommitObject"); err != nil {
		return err
	}
	return d.inner.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

func (d *Drive) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := d.before("DeleteObject"); err != nil {
		return err
	}
	return d.inner.DeleteObject(ctx, bucket, key)
}

func (d *Drive) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	if err := d.before("RenameObject"); err != nil {
		return err
	}
	return d.inner.RenameObject(ctx, bucket, srcKey, dstKey)
}

func (d *Drive) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	if err := d.before("Walk"); err != nil {
		return err
	}
	return d.inner.Walk(ctx, bucket, opts, fn)
}
