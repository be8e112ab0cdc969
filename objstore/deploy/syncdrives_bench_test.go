package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// BenchmarkSyncDrives times the fsync mode's durability point: a 4 KiB put made without
// its syncs (objstore.WithDeferredSync, as the mount's fsync mode commits), then
// SyncDrives, on two 4-drive 2+2 deployments in the same directory, one with the drives'
// redo logs and one without, alternating. Reports the microseconds SyncDrives took, median
// and mean, for each. Put the drives on the file system to measure with TMPDIR:
//
//	TMPDIR=<journaled ext4> go test -run '^$' -bench SyncDrives -benchtime 300x ./objstore/deploy/
func BenchmarkSyncDrives(b *testing.B) {
	root := b.TempDir()
	open := func(name string, opts local.Options) *deploy.Deployment {
		return benchLayerConfig(b, deploy.Config{
			Drives: []string{filepath.Join(root, name, "d{1...4}")}, Parity: 2, DriveOptions: opts}).(*deploy.Deployment)
	}
	deps := map[string]*deploy.Deployment{
		"plain": open("plain", local.Options{}),
		"redo":  open("redo", local.Options{RedoLog: true}),
	}
	content := randomBytes(4<<10, 1)
	took := map[string][]time.Duration{}
	ctx := objstore.WithDeferredSync(context.Background())
	b.ResetTimer()
	for i := range b.N {
		for _, name := range []string{"plain", "redo"} {
			d := deps[name]
			if _, err := d.PutObject(ctx, "bench", fmt.Sprintf("k%d", i), bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := d.SyncDrives(context.Background()); err != nil {
				b.Fatal(err)
			}
			took[name] = append(took[name], time.Since(start))
		}
	}
	b.StopTimer()
	for _, name := range []string{"plain", "redo"} {
		med, mean := medianMean(took[name])
		b.ReportMetric(float64(med.Microseconds()), name+"-median-us")
		b.ReportMetric(float64(mean.Microseconds()), name+"-mean-us")
	}
}

// medianMean returns the median and the mean of ds (which it sorts).
func medianMean(ds []time.Duration) (median, mean time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return ds[len(ds)/2], sum / time.Duration(len(ds))
}
