package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/internal/diskbench"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// BenchmarkSmallPut times durable 4 KiB puts of new keys on two 4-drive 2+2 deployments in
// the same directory, one with the drives' redo logs (local.Options.RedoLog) and one
// without, alternating: each iteration is one round of conc clients putting one object
// each on the plain deployment, then one on the redo-log one. Reports puts per second of
// each and redo/plain. Put the drives on the file system to measure with TMPDIR:
//
//	TMPDIR=<journaled ext4> go test -run '^$' -bench SmallPut -benchtime 500x ./objstore/deploy/
func BenchmarkSmallPut(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			root := b.TempDir()
			open := func(name string, opts local.Options) objstore.ObjectLayer {
				return benchLayerConfig(b, deploy.Config{
					Drives: []string{filepath.Join(root, name, "d{1...4}")}, Parity: 2, DriveOptions: opts})
			}
			layers := map[string]objstore.ObjectLayer{
				"plain": open("plain", local.Options{}),
				"redo":  open("redo", local.Options{RedoLog: true}),
			}
			content := randomBytes(4<<10, 1)
			ph := diskbench.NewPhases(conc)
			b.ResetTimer()
			for i := range b.N {
				for _, name := range []string{"plain", "redo"} {
					l := layers[name]
					if err := ph.Run(name, func(c int) error {
						_, err := l.PutObject(context.Background(), "bench", fmt.Sprintf("k%d/%d", i, c), bytes.NewReader(content), int64(len(content)), objstore.PutOptions{})
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			const putsPerMB = 1e6 / (4 << 10)
			plain, redo := ph.MBps("plain", 4<<10, b.N)*putsPerMB, ph.MBps("redo", 4<<10, b.N)*putsPerMB
			b.ReportMetric(plain, "plain-puts/s")
			b.ReportMetric(redo, "redo-puts/s")
			b.ReportMetric(redo/plain, "redo/plain")
			b.ReportMetric(ph.CPUPerObject("plain", b.N)*1000, "plain-cpu-us/put")
			b.ReportMetric(ph.CPUPerObject("redo", b.N)*1000, "redo-cpu-us/put")
		})
	}
}
