package deploy_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkList100k lists a bucket of 100,000 keys in pages of 1,000, as an S3 client
// would, on 1 drive and on 4 drives (2+2): once spread over 100 directories, once all in
// one directory. FLASHSTOR_LIST_KEYS changes the count.
//
//	go test -run '^$' -bench List100k -benchtime 1x ./objstore/deploy/
func BenchmarkList100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("FLASHSTOR_LIST_KEYS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, lt := range []struct{ drives, parity, dirs int }{{1, 0, 100}, {4, 2, 100}, {4, 2, 1}} {
		l := benchLayer(b, lt.drives, lt.parity, 0)
		start := time.Now()
		fill(b, l, n, lt.dirs)
		// A directory changed in the last moments is read again on each page (see the local
		// drive's directory cache); a listing starts once the writes have settled.
		time.Sleep(2 * time.Second)
		b.Logf("%d drives: wrote %d empty objects in %v", lt.drives, n, time.Since(start))
		for _, delim := range []string{"", "/"} {
			b.Run(fmt.Sprintf("%d+%d/dirs=%d/delimiter=%q", lt.drives-lt.parity, lt.parity, lt.dirs, delim), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					total := 0
					opts := objstore.ListOptions{Delimiter: delim, MaxKeys: 1000}
					for {
						res, err := l.ListObjects(context.Background(), "bench", opts)
						if err != nil {
							b.Fatal(err)
						}
						total += len(res.Objects) + len(res.Prefixes)
						if !res.IsTruncated {
							break
						}
						opts.Marker = res.NextMarker
					}
					if delim == "/" && total != lt.dirs {
						b.Fatalf("listed %d prefixes, want %d", total, lt.dirs)
					}
					if delim == "" && total != n {
						b.Fatalf("listed %d keys, want %d", total, n)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds()*float64(b.N), "keys/s")
			})
		}
	}
}

// fill writes n empty objects spread over dirs directories, in parallel.
func fill(b *testing.B, l objstore.ObjectLayer, n, dirs int) {
	const workers = 16
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for i := w; i < n; i += workers {
				key := fmt.Sprintf("dir%02d/object-%06d", i%dirs, i)
				if _, err := l.PutObject(context.Background(), "bench", key, nil, 0, objstore.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
