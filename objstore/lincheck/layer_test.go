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
// the history is linearizable and every body read whole.
func TestLayerLinearizable(t *testing.T) {
	def := 200
	if testing.Short() {
		def = 40
	}
	ops, err := lincheck.OpsPerClient(def)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")},
		Parity: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	cfg := lincheck.HotKeys(ops)
	if err := d.MakeBucket(t.Context(), "hot", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	res := lincheck.Run(t.Context(), cfg, func(int) lincheck.Store { return lincheck.LayerStore(d, "hot") })
	res.Check(t, 2*time.Minute, cfg.Need()...)
}
