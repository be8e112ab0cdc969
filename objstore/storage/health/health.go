// Package health wraps a drive with health tracking: every call that can block on the
// drive runs under a timeout; a drive that times out or reports itself offline (a remote
// drive whose node cannot be reached), or fails with I/O errors several times in a row, is
// marked offline and answers ErrDriveOffline at once, so that one bad drive
// never hangs a request; a prober brings it back when it answers again.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore/internal/workers"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Options tune the health tracking. Zero values take the defaults.
type Options struct {
	// Timeout bounds each metadata call and each read of a file (default 30s). Streaming
	// writes (CreateFile) and walks are not bounded as a whole: they make progress in steps
	// the drive answers one by one.
	Timeout time.Duration
	// MaxFaults is the number of consecutive I/O errors that take the drive offline (default 3).
	MaxFaults int
	// ProbeInterval is how often an offline drive is probed (default 5s).
	ProbeInterval time.Duration
	// OnStateChange, if set, is called when the drive goes offline or comes back online.
	OnStateChange func(d *Drive, online bool)
}

// Stats are a drive's counters, for metrics.
type Stats struct {
	Calls, Faults, Timeouts, Offlines uint64
	// BusyNanos is the total time spent in calls.
	BusyNanos uint64
}

// Drive is a drive with health tracking.
type Drive struct {
	inner storage.Drive
	opts  Options

	offline atomic.Bool
	faults  atomic.Int32
	stats   struct{ calls, faults, timeouts, offlines, busy atomic.Uint64 }

	// workers run the bounded calls.
	workers *workers.Pool[job]
	// calls recycles the call records of the calls a GET makes (see bounded).
	calls struct{ readMeta, openFile, readAt sync.Pool }

	mu sync.Mutex
	// stop ends the prober and the idle workers; probing tells whether a prober runs.
	// Both guarded by mu (stop is only closed under it).
	stop    chan struct{}
	probing bool
	closed  bool
}

var _ storage.Drive = (*Drive)(nil)

// Wrap returns d with health tracking.
func Wrap(d storage.Drive, opts Options) *Drive {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxFaults <= 0 {
		opts.MaxFaults = 3
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 5 * time.Second
	}
	stop := make(chan struct{})
	return &Drive{inner: d, opts: opts, stop: stop, workers: workers.New(runJob, stop)}
}

// Online reports whether the drive is in use.
func (d *Drive) Online() bool { return !d.offline.Load() }

// Stats returns the drive's counters.
func (d *Drive) Stats() Stats {
	return Stats{
		Calls: d.stats.calls.Load(), Faults: d.stats.faults.Load(), Timeouts: d.stats.timeouts.Load(),
		Offlines: d.stats.offlines.Load(), BusyNanos: d.stats.busy.Load(),
	}
}

// Close stops the prober, if one runs, and the idle workers.
func (d *Drive) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.stop)
	}
}

func (d *Drive) String() string { return d.inner.String() }

// timers recycles the timers bounded waits with.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// call is one bounded call, fn(ctx, arg), run on a worker goroutine while its caller waits
// for it or for the timeout. The caller reads v and err only after receiving from done; a
// call whose caller gave up is never reused, since fn may still be running with it.
type call[A, T any] struct {
	ctx  context.Context
	fn   func(context.Context, A) (T, error)
	arg  A
	v    T
	err  error
	done chan struct{} // buffered: the worker never blocks on a caller that left
}

func (c *call[A, T]) run() {
	c.v, c.err = c.fn(c.ctx, c.arg)
	c.done <- struct{}{}
}

// bounded runs fn(ctx, arg) on one of the drive's workers under the timeout: the caller
// gets ErrTimeout when it expires, while fn (a system call that cannot be interrupted)
// finishes in the background. fn gets the caller's context: deriving one with the
// deadline would cost more allocations than the metadata calls it bounds. calls, if not
// nil, recycles the call records of one kind of call (the hot ones: a GET makes several
// per drive); fn should then be a function literal capturing nothing, its inputs in arg,
// so that a call allocates nothing.
func bounded[A, T any](d *Drive, ctx context.Context, calls *sync.Pool, fn func(context.Context, A) (T, error), arg A) (T, error) {
	var zero T
	if d.offline.Load() {
		return zero, fmt.Errorf("%w: %s", storage.ErrDriveOffline, d.inner)
	}
	start := time.Now()
	var c *call[A, T]
	if calls != nil {
		c, _ = calls.Get().(*call[A, T])
	}
	if c == nil {
		c = &call[A, T]{done: make(chan struct{}, 1)}
	}
	c.ctx, c.fn, c.arg = ctx, fn, arg
	d.workers.Go(c)
	t := timers.Get().(*time.Timer)
	t.Reset(d.opts.Timeout)
	var v T
	var err error
	finished := false
	select {
	case <-c.done:
		v, err, finished = c.v, c.err, true
	case <-t.C:
		err = fmt.Errorf("%w: %s after %v", storage.ErrTimeout, d.inner, d.opts.Timeout)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	t.Stop()
	timers.Put(t)
	if finished && calls != nil {
		*c = call[A, T]{done: c.done}
		calls.Put(c)
	}
	d.record(err, time.Since(start))
	return v, err
}

// boundedErr is bounded for a function with no result but its error, in a call record of
// its own.
func (d *Drive) boundedErr(ctx context.Context, fn func(ctx context.Context) error) error {
	_, err := bounded(d, ctx, nil, func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, fn(ctx) }, struct{}{})
	return err
}

// boundedFunc is bounded for a closure, in a call record of its own.
func boundedFunc[T any](d *Drive, ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	return bounded(d, ctx, nil, func(ctx context.Context, _ struct{}) (T, error) { return fn(ctx) }, struct{}{})
}

// unbounded runs fn without a timeout, still recording its outcome.
func (d *Drive) unbounded(fn func() error) error {
	if d.offline.Load() {
		return fmt.Errorf("%w: %s", storage.ErrDriveOffline, d.inner)
	}
	start := time.Now()
	err := fn()
	d.record(err, time.Since(start))
	return err
}

func (d *Drive) record(err error, took time.Duration) {
	d.stats.calls.Add(1)
	d.stats.busy.Add(uint64(took))
	switch {
	case errors.Is(err, storage.ErrTimeout):
		d.stats.timeouts.Add(1)
		d.stats.faults.Add(1)
		d.goOffline()
	case errors.Is(err, storage.ErrDriveOffline):
		// The drive says itself that it cannot be reached (a remote drive whose node
		// refuses connections or credentials): no point in waiting for more faults.
		d.stats.faults.Add(1)
		d.goOffline()
	case errors.Is(err, storage.ErrFaulty):
		d.stats.faults.Add(1)
		if int(d.faults.Add(1)) >= d.opts.MaxFaults {
			d.goOffline()
		}
	case err == nil || !storage.IsDriveFault(err):
		d.faults.Store(0)
	}
}

func (d *Drive) goOffline() {
	if !d.offline.CompareAndSwap(false, true) {
		return
	}
	d.stats.offlines.Add(1)
	if d.opts.OnStateChange != nil {
		d.opts.OnStateChange(d, false)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.probing || d.closed {
		return
	}
	d.probing = true
	go d.probe()
}

// probe checks an offline drive until it answers a capacity query and a write, read and
// removal of a file in its staging area, then puts it back online.
func (d *Drive) probe() {
	t := time.NewTicker(d.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if d.probeOnce() == nil {
			d.mu.Lock()
			d.probing = false
			d.mu.Unlock()
			d.faults.Store(0)
			d.offline.Store(false)
			if d.opts.OnStateChange != nil {
				d.opts.OnStateChange(d, true)
			}
			return
		}
	}
}

func (d *Drive) probeOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		const path = "tmp/health-probe"
		if _, err := d.inner.DiskInfo(ctx); err != nil {
			done <- err
			return
		}
		if err := d.inner.WriteFile(ctx, storage.SysVolume, path, []byte("probe")); err != nil {
			done <- err
			return
		}
		if _, err := d.inner.ReadFile(ctx, storage.SysVolume, path); err != nil {
			done <- err
			return
		}
		done <- d.inner.Delete(ctx, storage.SysVolume, path, false)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// file bounds every read of an open file.
type file struct {
	storage.File
	d *Drive
}

// readBufs holds the buffers reads go through (see file.ReadAt).
var readBufs sync.Pool

// readArgs are the inputs of one bounded read of a file.
type readArgs struct {
	f   storage.File
	buf []byte
	off int64
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	// The read goes into a buffer of its own: after a timeout the stalled read may still
	// write into it, while p is the caller's again. The buffer goes back to the pool only
	// when the read returned in time.
	bp, _ := readBufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < len(p) {
		b := make([]byte, len(p))
		bp = &b
	}
	buf := (*bp)[:len(p)]
	n, err := bounded(f.d, context.Background(), &f.d.calls.readAt, func(_ context.Context, a readArgs) (int, error) {
		n, err := a.f.ReadAt(a.buf, a.off)
		if err == io.EOF {
			err = nil
		}
		return n, err
	}, readArgs{f.File, buf, off})
	n = copy(p, buf[:n])
	if !errors.Is(err, storage.ErrTimeout) {
		readBufs.Put(bp)
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}
