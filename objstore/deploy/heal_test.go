package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// TestDriveWipedWhileRunning wipes a drive under a running deployment: the background
// healing must notice the lost format record, format the drive for its position and restore
// every object on it, without a restart.
func TestDriveWipedWhileRunning(t *testing.T) {
	f := newFixture(t, 4, 2)
	c, cancel := context.WithCancel(context.Background())
	healed := make(chan erasureset.HealResult, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.d.RunHealing(c, deploy.HealingOptions{
			ScanInterval:        -1,
			FormatCheckInterval: 20 * time.Millisecond,
			Report: func(r erasureset.HealResult, err error) {
				if err == nil && len(r.Healed) > 0 {
					healed <- r
				}
			},
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	f.wipe(1)
	deadline := time.After(60 * time.Second)
	seen := make(map[string]bool)
	for len(seen) < len(f.objects) {
		select {
		case r := <-healed:
			seen[r.Key] = true
		case <-deadline:
			t.Fatalf("only %d of %d objects healed after the wipe: %v", len(seen), len(f.objects), seen)
		}
	}
	if _, err := os.Stat(filepath.Join(f.drives[1], ".flashstor.sys", "format.json")); err != nil {
		t.Fatal("the wiped drive was not formatted again")
	}
	// Everything must now survive the loss of the two drives that were never wiped... of
	// any two other drives: take 0 and 2.
	f.wipe(0)
	f.wipe(2)
	f.checkAll("after the running heal and the loss of two other drives")
}
