package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// directTarget names the object layer called in process in the report.
const directTarget = "direct"

// runDirect measures the limit: the object layer called directly, in this process, on a
// fresh deployment, with the same sizes and concurrencies (PUT from memory, GET into
// io.Discard through the handle's WriteRange, as the S3 face reads).
func runDirect(ctx context.Context, cfg Config, payload []byte) ([]Cell, *Allocs, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dep, err := deploy.Open(ctx, deploy.Config{Drives: drivesFor(cfg, directTarget), Parity: -1, Log: log})
	if err != nil {
		return nil, nil, err
	}
	defer dep.Close()
	if err := dep.MakeBucket(ctx, benchBucket, objstore.MakeBucketOptions{}); err != nil {
		return nil, nil, err
	}
	// The metadata a PUT through the S3 face stores, so that reads decode the same.
	md := func() map[string]string {
		return map[string]string{"content-type": "application/octet-stream", "x-amz-checksum-crc32": "AAAAAA=="}
	}
	put := func(ctx context.Context, w int, size int64) error {
		_, err := dep.PutObject(ctx, benchBucket, key(size, w), bytes.NewReader(payload[:size]), size, objstore.PutOptions{Metadata: md()})
		return err
	}
	get := func(ctx context.Context, w int, size int64) error {
		h, err := dep.OpenObject(ctx, benchBucket, key(size, w))
		if err != nil {
			return err
		}
		defer h.Close()
		_, err = h.WriteRange(ctx, io.Discard, 0, size)
		return err
	}
	var cells []Cell
	for _, size := range cfg.Sizes {
		for _, conc := range cfg.Concurrency {
			cells = append(cells, runCell(ctx, cfg, directTarget, "PUT", size, conc, put, nil))
			cells = append(cells, runCell(ctx, cfg, directTarget, "GET", size, conc, get, nil))
			if ctx.Err() != nil {
				return cells, nil, ctx.Err()
			}
		}
	}
	// The raw GETs' limit, and the allocations of one 4 KiB read, the layer's share of a
	// GET.
	if err := put(ctx, 0, 4096); err != nil {
		return cells, nil, err
	}
	for _, conc := range cfg.Concurrency {
		one := func(ctx context.Context, w int, size int64) error { return get(ctx, 0, size) }
		cells = append(cells, runCell(ctx, cfg, directTarget, "GET-raw", 4096, conc, one, nil))
	}
	for range 200 {
		get(ctx, 0, 4096)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range cfg.AllocGETs {
		if err := get(ctx, 0, 4096); err != nil {
			return cells, nil, err
		}
	}
	runtime.ReadMemStats(&after)
	return cells, &Allocs{Target: directTarget, PerGET: float64(after.Mallocs-before.Mallocs) / float64(cfg.AllocGETs)}, nil
}
