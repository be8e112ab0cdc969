package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// TestHealConfigRecords: a drive wiped (and formatted again at the next start) gets back
// every bucket configuration record and the deployment's own records (the IAM
// identities') from a heal, byte for byte, and so does a drive whose copy is older or
// corrupt; afterwards the records survive the loss of the parity count of other drives.
func TestHealConfigRecords(t *testing.T) {
	ctx := context.Background()
	drives, open, wipe := driveSet(t, 4)
	record := func(drive int, path string) []byte {
		b, err := os.ReadFile(filepath.Join(drives[drive], ".flashstor.sys", path))
		if err != nil {
			return nil
		}
		return b
	}
	heal := func(d *deploy.Deployment) {
		t.Helper()
		for _, s := range d.Sets() {
			if err := s.HealAll(ctx, false, func(erasureset.HealResult) {}); err != nil {
				t.Fatalf("HealAll: %v", err)
			}
		}
	}

	d := open()
	want := map[string]map[string]string{}
	for _, b := range []string{"alpha", "beta"} {
		must(t, d.MakeBucket(ctx, b, objstore.MakeBucketOptions{}))
		want[b] = map[string]string{objstore.BucketConfigVersioning: "Enabled", objstore.BucketConfigTagging: "k=" + b}
		for name, doc := range want[b] {
			must(t, d.SetBucketConfig(ctx, b, name, doc))
		}
	}
	iam := map[string]string{"users": `{"alice":{}}`}
	must(t, d.SetSystemConfig(ctx, "iam", iam))
	paths := []string{"buckets/alpha/config", "buckets/beta/config", "system/iam/config"}
	d.Close()

	// Drive 2 is wiped; drive 3's IAM record is corrupt and its alpha record is missing.
	wipe(1)
	if err := os.WriteFile(filepath.Join(drives[2], ".flashstor.sys", "system/iam/config"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(drives[2], ".flashstor.sys", "buckets/alpha/config")); err != nil {
		t.Fatal(err)
	}
	d = open()
	for _, p := range paths {
		if record(1, p) != nil {
			t.Fatalf("%s is on the wiped drive before any heal", p)
		}
	}
	heal(d)
	for _, p := range paths {
		good := record(0, p)
		if good == nil {
			t.Fatalf("%s missing on drive 1", p)
		}
		for i := range drives {
			if got := record(i, p); !bytes.Equal(got, good) {
				t.Errorf("after heal, drive %d's %s is %q, want %q", i+1, p, got, good)
			}
		}
	}
	d.Close()

	// Two of the drives that kept their records are lost: the healed ones hold them.
	wipe(0)
	wipe(3)
	d = open()
	defer d.Close()
	for b, docs := range want {
		got, err := d.BucketConfig(ctx, b)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(docs) {
			t.Errorf("bucket %s after losing drives 1 and 4: %v %v, want %v", b, got, err, docs)
		}
	}
	got, err := d.SystemConfig(ctx, "iam")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(iam) {
		t.Errorf("IAM record after losing drives 1 and 4: %v %v, want %v", got, err, iam)
	}
}

// driveSet makes n drive directories for a deployment of parity 2; open opens it (each
// start formats the drives found empty), wipe empties drive i (its contents and format gone).
func driveSet(t *testing.T, n int) (drives []string, open func() *deploy.Deployment, wipe func(i int)) {
	dir := t.TempDir()
	for i := 1; i <= n; i++ {
		drives = append(drives, filepath.Join(dir, fmt.Sprintf("d%d", i)))
	}
	open = func() *deploy.Deployment {
		t.Helper()
		d, err := deploy.Open(context.Background(), deploy.Config{Drives: drives, Parity: 2})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	wipe = func(i int) {
		t.Helper()
		if err := os.RemoveAll(drives[i]); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(drives[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return drives, open, wipe
}
