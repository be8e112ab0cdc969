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
	budget := 20*time.Second + time.Duration(ops)*100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget+30*time.Second)
	defer cancel()
	if err := d.MakeBucket(ctx, "hot", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	res := lincheck.Run(ctx, lincheck.Config{
		Clients:      8,
		Keys:         []string{"k1", "k2", "dir/k3"},
		OpsPerClient: ops,
		Duration:     budget,
		Seed:         1,
		SlowShare:    0.1,
		Pause:        20 * time.Millisecond,
		AbandonShare: 0.05,
		AbandonAfter: 10 * time.Millisecond,
	}, func(int) lincheck.Store { return lincheck.LayerStore(d, "hot") })
	checkRun(t, res, ops >= 100)
}

// checkRun fails t if a run had errors, covered too little, or is not linearizable. A run
// that wrote nothing or read nothing back shows nothing; a long one (full) must also have
// won conditional writes of both kinds (a short one may by chance not have).
func checkRun(t *testing.T, res lincheck.Result, full bool) {
	t.Helper()
	t.Logf("operations: %s", res.TallyString())
	for _, err := range res.Errors {
		t.Error(err)
	}
	need := []string{"put ok", "get ok"}
	if full {
		need = append(need, "put if-none-match ok", "put if-match ok")
	}
	for _, what := range need {
		if res.Tally[what] == 0 {
			t.Errorf("no %q in the run", what)
		}
	}
	lincheck.Check(t, res.Ops, 2*time.Minute)
}
