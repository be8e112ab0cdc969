package lincheck_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/lincheck"
)

// TestLayerLinearizable runs eight clients of the object layer on 4 drives (2 data + 2
// parity) against three hot keys: puts, If-None-Match and If-Match puts, gets and deletes,
// bodies inline and staged, some sent slowly, some abandoned mid-flight; and checks that
// the history is linearizable and every body read whole. The "abandoned" variant (not
// with -short) gives up four writes in ten within 15 ms, many of them while they commit:
// it found commits that a cancelled context cut short (fixed with its own test,
// TestCancelledWriteIsWhole in objstore/deploy), failing 5 of 10 runs on the core before
// the fix (reads refused for want of a quorum, or checks that could not finish).
// FLASHSTOR_LIN_OPS=N makes each client do N operations.
func TestLayerLinearizable(t *testing.T) {
	variants := []struct {
		name  string
		ops   int // per client by default
		short bool
		mod   func(*lincheck.Config)
	}{
		{"mixed", 200, true, func(*lincheck.Config) {}},
		{"abandoned", 600, false, func(c *lincheck.Config) {
			c.AbandonShare, c.AbandonAfter = 0.4, 15*time.Millisecond
			c.Sizes = []lincheck.SizeClass{{Weight: 1, Min: lincheck.HeaderSize, Max: 4 << 10}, {Weight: 1, Min: 200 << 10, Max: 300 << 10}}
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			def := v.ops
			if testing.Short() {
				if !v.short {
					t.Skip("a longer variant")
				}
				def = 40
			}
			ops, err := lincheck.OpsPerClient(def)
			if err != nil {
				t.Fatal(err)
			}
			d, err := deploy.Open(context.Background(), deploy.Config{
				Drives: []string{filepath.Join(t.TempDir(), "d{1...4}")},
				Parity: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			if err := d.MakeBucket(t.Context(), "hot", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			cfg := lincheck.HotKeys(ops)
			v.mod(&cfg)
			res := lincheck.Run(t.Context(), cfg, func(int) lincheck.Store { return lincheck.LayerStore(d, "hot") })
			res.Check(t, 2*time.Minute, cfg.Need()...)
		})
	}
}
