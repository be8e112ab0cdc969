package deploy_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// TestVersionsSurviveDriveLoss: the durability and heal guarantees hold for every version
// of a versioned bucket. With 4 drives and 2 parity, every version (empty, inline, one
// stripe, several stripes) and the delete marker read back byte for byte after the loss
// of two whole drives; a heal (HealAll, what the server's healing and `flashstor heal`
// run) rebuilds them onto the replaced drives, which then alone serve every version byte
// for byte, the bucket's versioning record included.
func TestVersionsSurviveDriveLoss(t *testing.T) {
	ctx := context.Background()
	_, open, wipe := driveSet(t, 4)
	d := open()
	versionedBucket(t, d, "Enabled")
	rng := rand.New(rand.NewPCG(7, 7))
	type ver struct{ key, id, body string }
	var vers []ver
	for _, key := range []string{"a", "dir/b"} {
		for _, size := range []int{0, 1000, 200 << 10, 3<<20 + 5} {
			b := make([]byte, size)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			info := putString(t, d, key, string(b), objstore.PutOptions{})
			vers = append(vers, ver{key, info.Version.VersionID, string(b)})
		}
	}
	must(t, d.DeleteObject(ctx, "vers", "dir/b")) // a delete marker on top
	check := func(when string, d *deploy.Deployment) {
		t.Helper()
		for _, v := range vers {
			got, err := readVersion(t, d, v.key, v.id)
			if err != nil || got != v.body {
				t.Fatalf("%s: %s version %s: %d bytes, %v; want %d bytes", when, v.key, v.id, len(got), err, len(v.body))
			}
		}
		res, err := d.ListObjectVersions(ctx, "vers", objstore.ListVersionsOptions{})
		if err != nil || len(res.Versions) != len(vers)+1 || !res.Versions[4].Version.DeleteMarker || !res.Versions[4].Version.IsLatest {
			t.Fatalf("%s: versions %+v, %v", when, res.Versions, err)
		}
		if v, err := d.BucketVersioning(ctx, "vers"); err != nil || v != objstore.VersioningEnabled {
			t.Fatalf("%s: versioning %v, %v", when, v, err)
		}
	}
	check("before any loss", d)
	d.Close()

	wipe(0)
	wipe(1)
	d = open()
	check("with two drives lost", d)
	for _, s := range d.Sets() {
		if err := s.HealAll(ctx, true, func(erasureset.HealResult) {}); err != nil {
			t.Fatalf("HealAll: %v", err)
		}
	}
	d.Close()

	wipe(2)
	wipe(3)
	d = open()
	defer d.Close()
	check("with only the healed drives", d)
}
