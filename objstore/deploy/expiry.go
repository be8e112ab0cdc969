package deploy

import (
	"context"
	"time"

	"github.com/flashstor/flashstor/objstore/pool"
)

// UploadExpiryOptions tune the expiry of incomplete multipart uploads: an upload that is
// neither completed nor aborted keeps its parts on the drives until it is removed here. It
// applies to every bucket, without any lifecycle rule.
type UploadExpiryOptions struct {
	// Age: an upload initiated longer ago than Age is removed with its parts (default 24h,
	// as MinIO's stale-upload expiry; negative: never).
	Age time.Duration
	// Interval is the time from one pass to the next (default 1h). The first pass runs
	// when RunUploadExpiry starts.
	Interval time.Duration
	// MaxPerPass is the most uploads one pass tries to remove (default 1000). A pass that
	// reaches it is followed by the next after Pause rather than Interval, so that a
	// backlog drains at the rate Pause allows.
	MaxPerPass int
	// Pause is the wait between two removals (default 10ms; negative: none). Each removal
	// deletes one upload's directory on every drive of its set.
	Pause time.Duration
	// Report, if set, is called after every pass with how many uploads it removed.
	Report func(removed int)
}

func (o UploadExpiryOptions) withDefaults() UploadExpiryOptions {
	if o.Age == 0 {
		o.Age = 24 * time.Hour
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.MaxPerPass <= 0 {
		o.MaxPerPass = 1000
	}
	if o.Pause == 0 {
		o.Pause = 10 * time.Millisecond
	}
	return o
}

// RunUploadExpiry removes incomplete multipart uploads older than the configured age
// (Config.UploadExpiry), one pass every interval, until ctx is done. With a negative age it
// returns at once.
func (dep *Deployment) RunUploadExpiry(ctx context.Context) {
	o := dep.expiry
	if o.Age < 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := o.Interval
		if n, _ := dep.ExpireUploadsOnce(ctx); n >= o.MaxPerPass {
			next = max(o.Pause, time.Millisecond)
		}
		t.Reset(next)
	}
}

// ExpireUploadsOnce runs one pass of the expiry: it removes up to MaxPerPass uploads
// initiated more than Age before the deployment's clock says it is now, logs what it
// removed or failed to, reports the count and returns it.
func (dep *Deployment) ExpireUploadsOnce(ctx context.Context) (int, error) {
	o := dep.expiry
	if o.Age < 0 {
		return 0, nil
	}
	n, err := dep.ExpireUploads(ctx, pool.ExpireUploadsOptions{
		Before: dep.now().Add(-o.Age),
		Limit:  o.MaxPerPass,
		Pause:  o.Pause,
	})
	if n > 0 {
		dep.log.Info("expired incomplete multipart uploads", "removed", n, "older_than", o.Age)
	}
	if err != nil && ctx.Err() == nil {
		dep.log.Warn("multipart upload expiry incomplete", "removed", n, "err", err)
	}
	if o.Report != nil {
		o.Report(n)
	}
	return n, err
}
