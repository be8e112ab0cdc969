package deploy

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

// slot holds the position of a drive left out of the start: while the drive is out, every
// call fails at once with storage.ErrDriveOffline, so the erasure set works around it as
// around a drive that went offline; once healing has made the drive fit (see
// format.Layout.Recover), the slot lets calls through to it. A drive that could not even be
// opened has no inner drive yet: healing opens it when it can.
type slot struct {
	path  string
	state atomic.Pointer[slotState]
}

// slotState is a slot's drive and why it is out; replaced whole, never changed in place.
type slotState struct {
	// inner is the health-tracked drive; nil while it cannot be opened.
	inner *health.Drive
	// out: calls fail with callErr; reason and err say why.
	out     bool
	reason  format.Reason
	err     error
	callErr error
}

var _ storage.Drive = (*slot)(nil)

func newSlot(path string, inner *health.Drive, reason format.Reason, err error) *slot {
	s := &slot{path: path}
	s.store(slotState{inner: inner, out: true, reason: reason, err: err})
	return s
}

// store replaces the slot's state, with the error its calls fail with while it is out
// (made once: a degraded set calls the slot on every request).
func (s *slot) store(st slotState) {
	st.callErr = nil
	if st.out || st.inner == nil {
		st.callErr = fmt.Errorf("%w: %s is left out (%s): %v", storage.ErrDriveOffline, s.path, st.reason, st.err)
	}
	s.state.Store(&st)
}

// takeOut puts the slot out of service: its calls fail at once, for the reason given.
func (s *slot) takeOut(reason format.Reason, err error) {
	cur := *s.state.Load()
	cur.out, cur.reason, cur.err = true, reason, err
	s.store(cur)
}

// drive returns the drive calls go to, or why there is none.
func (s *slot) drive() (storage.Drive, error) {
	st := s.state.Load()
	if st.callErr != nil {
		return nil, st.callErr
	}
	return st.inner, nil
}

// Online reports whether the drive serves: it is in and its health tracking has it online.
func (s *slot) Online() bool {
	st := s.state.Load()
	return !st.out && st.inner != nil && st.inner.Online()
}

// Stats returns the drive's health counters, zero while it could not be opened.
func (s *slot) Stats() health.Stats {
	if st := s.state.Load(); st.inner != nil {
		return st.inner.Stats()
	}
	return health.Stats{}
}

// LeftOut returns why the drive is out of service, "" when it serves.
func (s *slot) LeftOut() string {
	if st := s.state.Load(); st.out {
		return st.reason.String()
	}
	return ""
}

// Close stops the inner drive's health tracking.
func (s *slot) Close() {
	if st := s.state.Load(); st.inner != nil {
		st.inner.Close()
	}
}

func (s *slot) String() string { return s.path }

func (s *slot) DiskInfo(ctx context.Context) (storage.DiskInfo, error) {
	d, err := s.drive()
	if err != nil {
		return storage.DiskInfo{}, err
	}
	return d.DiskInfo(ctx)
}

func (s *slot) ReadFormat(ctx context.Context) ([]byte, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.ReadFormat(ctx)
}

func (s *slot) WriteFormat(ctx context.Context, b []byte) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.WriteFormat(ctx, b)
}

func (s *slot) MakeVolume(ctx context.Context, volume string) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.MakeVolume(ctx, volume)
}

func (s *slot) StatVolume(ctx context.Context, volume string) (time.Time, error) {
	d, err := s.drive()
	if err != nil {
		return time.Time{}, err
	}
	return d.StatVolume(ctx, volume)
}

func (s *slot) ListVolumes(ctx context.Context) ([]string, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.ListVolumes(ctx)
}

func (s *slot) DeleteVolume(ctx context.Context, volume string, force bool) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.DeleteVolume(ctx, volume, force)
}

func (s *slot) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.CreateFile(ctx, volume, path, size, r)
}

func (s *slot) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.OpenFile(ctx, volume, path)
}

func (s *slot) ReadFile(ctx context.Context, volume, path string) ([]byte, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.ReadFile(ctx, volume, path)
}

func (s *slot) WriteFile(ctx context.Context, volume, path string, data []byte) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.WriteFile(ctx, volume, path, data)
}

func (s *slot) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.RenameFile(ctx, srcVolume, srcPath, dstVolume, dstPath)
}

func (s *slot) Delete(ctx context.Context, volume, path string, recursive bool) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.Delete(ctx, volume, path, recursive)
}

func (s *slot) ListDir(ctx context.Context, volume, dir string) ([]string, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.ListDir(ctx, volume, dir)
}

func (s *slot) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	d, err := s.drive()
	if err != nil {
		return nil, err
	}
	return d.ReadMeta(ctx, bucket, key)
}

func (s *slot) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

// CommitDomain is the drive's (storage.CommitDomainer), nil while the slot has none.
func (s *slot) CommitDomain() any {
	st := s.state.Load()
	if st.callErr != nil || st.inner == nil {
		return nil
	}
	return st.inner.CommitDomain()
}

func (s *slot) DeleteObject(ctx context.Context, bucket, key string) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.DeleteObject(ctx, bucket, key)
}

func (s *slot) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.RenameObject(ctx, bucket, srcKey, dstKey)
}

func (s *slot) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	d, err := s.drive()
	if err != nil {
		return err
	}
	return d.Walk(ctx, bucket, opts, fn)
}
