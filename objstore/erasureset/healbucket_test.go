package erasureset

import (
	"context"
	"fmt"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// TestHealBucketCreatedMeanwhile: a bucket that another heal creates on a drive between
// HealBucket's look and its create is there, as wanted: not an error that stops the heal
// of the whole set (two full heals of one set, for two drives that came back, met so).
func TestHealBucketCreatedMeanwhile(t *testing.T) {
	var drives []storage.Drive
	var late *faulty.Drive
	for i := range 4 {
		d, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			late = faulty.Wrap(d)
			drives = append(drives, late)
			continue
		}
		drives = append(drives, d)
	}
	s, err := New(Config{Drives: drives, Parity: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := s.MakeBucket(c, "meanwhile"); err != nil {
		t.Fatal(err)
	}
	// Drive 1 has the bucket but said it had not when HealBucket looked.
	late.Fail("StatVolume", fmt.Errorf("%w: meanwhile", storage.ErrVolumeNotFound))
	if err := s.HealBucket(c, "meanwhile"); err != nil {
		t.Fatalf("HealBucket: %v", err)
	}
}
