package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// fixture is a deployment on drive directories the test can damage, with the objects it
// wrote and their contents.
type fixture struct {
	t       *testing.T
	drives  []string
	parity  int
	d       *deploy.Deployment
	objects map[string][]byte
}

const faultBucket = "faults"

func newFixture(t *testing.T, n, parity int) *fixture {
	return newFixtureIn(t, t.TempDir(), n, parity)
}

// newFixtureIn is newFixture with the drives in dir.
func newFixtureIn(t *testing.T, dir string, n, parity int) *fixture {
	f := &fixture{t: t, parity: parity, objects: make(map[string][]byte)}
	for i := 1; i <= n; i++ {
		f.drives = append(f.drives, filepath.Join(dir, fmt.Sprintf("d%d", i)))
	}
	f.open(f.drives)
	if err := f.d.MakeBucket(context.Background(), faultBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every storage shape: empty, inline, one stripe, several stripes, and multipart.
	for i, size := range []int{0, 1, 5000, 100 << 10, 1 << 20, 3<<20 + 777} {
		f.put(fmt.Sprintf("obj/%d-%d", i, size), size, uint64(i))
	}
	f.putMultipart("multi/part", []int{5 << 20, 1<<20 + 3})
	return f
}

// open (re)opens the deployment on the given drive paths, in that order.
func (f *fixture) open(paths []string) {
	f.t.Helper()
	d, err := deploy.Open(context.Background(), deploy.Config{Drives: paths, Parity: f.parity})
	if err != nil {
		f.t.Fatalf("opening %d drives: %v", len(paths), err)
	}
	f.d = d
}

func (f *fixture) put(key string, size int, seed uint64) {
	f.t.Helper()
	content := randomBytes(size, seed)
	if _, err := f.d.PutObject(context.Background(), faultBucket, key, bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.objects[key] = content
}

func (f *fixture) putMultipart(key string, sizes []int) {
	f.t.Helper()
	c := context.Background()
	id, err := f.d.NewMultipartUpload(c, faultBucket, key, objstore.PutOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var whole []byte
	var parts []objstore.CompletePart
	for i, size := range sizes {
		content := randomBytes(size, uint64(1000+i))
		p, err := f.d.PutObjectPart(c, faultBucket, key, id, i+1, bytes.NewReader(content), int64(size), objstore.PartOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		parts = append(parts, objstore.CompletePart{Number: i + 1, ETag: p.ETag})
		whole = append(whole, content...)
	}
	if _, err := f.d.CompleteMultipartUpload(c, faultBucket, key, id, parts, objstore.CompleteOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.objects[key] = whole
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkAll reads every object and compares it byte for byte, and checks the listing.
func (f *fixture) checkAll(when string) {
	f.t.Helper()
	c := context.Background()
	for key, want := range f.objects {
		h, err := f.d.OpenObject(c, faultBucket, key)
		if err != nil {
			f.t.Fatalf("%s: OpenObject(%s): %v", when, key, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
		h.Close()
		if err != nil {
			f.t.Fatalf("%s: reading %s: %v", when, key, err)
		}
		if !bytes.Equal(got, want) {
			f.t.Fatalf("%s: %s read back %d bytes that differ from the %d written", when, key, len(got), len(want))
		}
	}
	res, err := f.d.ListObjects(c, faultBucket, objstore.ListOptions{})
	if err != nil {
		f.t.Fatalf("%s: ListObjects: %v", when, err)
	}
	if len(res.Objects) != len(f.objects) {
		f.t.Fatalf("%s: listing has %d objects, want %d", when, len(res.Objects), len(f.objects))
	}
}

// healAll runs a deep heal of every set and returns how many objects needed work.
func (f *fixture) healAll() int {
	f.t.Helper()
	healed := 0
	for _, s := range f.d.Sets() {
		err := s.HealAll(context.Background(), true, func(r erasureset.HealResult) { healed++ })
		if err != nil {
			f.t.Fatalf("HealAll: %v", err)
		}
	}
	return healed
}

// wipe removes everything on a drive at once, as a disk swapped for an empty one: the
// directory is renamed away and an empty one takes its place.
func (f *fixture) wipe(i int) {
	f.t.Helper()
	gone := f.drives[i] + ".wiped"
	if err := os.Rename(f.drives[i], gone); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Mkdir(f.drives[i], 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.RemoveAll(gone); err != nil {
		f.t.Fatal(err)
	}
}

// files returns a drive's shard files and metadata files of the test bucket.
func (f *fixture) files(i int) (shards, metas []string) {
	root := filepath.Join(f.drives[i], faultBucket)
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(p, "%m"):
			metas = append(metas, p)
		case strings.Contains(filepath.Base(p), "part."):
			shards = append(shards, p)
		}
		return nil
	})
	return shards, metas
}

// corrupt flips bytes at random places of every file given.
func corrupt(t *testing.T, r *rand.Rand, paths []string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			continue
		}
		for j := 0; j < 3; j++ {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func truncate(t *testing.T, r *rand.Rand, paths []string) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 0 {
			if err := os.Truncate(p, r.Int64N(fi.Size())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func remove(t *testing.T, paths []string) {
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// faults are the damages each layout must survive on up to m drives.
var faults = []struct {
	name   string
	damage func(f *fixture, r *rand.Rand, drive int)
}{
	{"wipe", func(f *fixture, r *rand.Rand, i int) { f.wipe(i) }},
	{"corrupt-shards", func(f *fixture, r *rand.Rand, i int) { s, _ := f.files(i); corrupt(f.t, r, s) }},
	{"corrupt-metadata", func(f *fixture, r *rand.Rand, i int) { _, m := f.files(i); corrupt(f.t, r, m) }},
	{"truncate-shards", func(f *fixture, r *rand.Rand, i int) { s, _ := f.files(i); truncate(f.t, r, s) }},
	{"truncate-metadata", func(f *fixture, r *rand.Rand, i int) { _, m := f.files(i); truncate(f.t, r, m) }},
	{"delete-metadata", func(f *fixture, r *rand.Rand, i int) { _, m := f.files(i); remove(f.t, m) }},
	{"delete-shards", func(f *fixture, r *rand.Rand, i int) { s, _ := f.files(i); remove(f.t, s) }},
}

var faultLayouts = []struct {
	name           string
	drives, parity int
}{
	{"4drives-2+2", 4, 2},
	{"8drives-6+2", 8, 2},
	{"8drives-4+4", 8, 4},
}

// TestFaults damages m drives of each layout in each way, then checks that every object
// reads back exactly, that heal restores every drive, and that after the heal the loss of
// m other drives still leaves everything readable.
func TestFaults(t *testing.T) {
	for _, lt := range faultLayouts {
		for _, fault := range faults {
			t.Run(lt.name+"/"+fault.name, func(t *testing.T) {
				if testing.Short() && lt.drives > 4 {
					t.Skip("8-drive layouts skipped in -short; the full run covers them")
				}
				r := rand.New(rand.NewPCG(uint64(len(fault.name)), uint64(lt.drives)))
				f := newFixture(t, lt.drives, lt.parity)
				damaged := r.Perm(lt.drives)[:lt.parity]
				for _, i := range damaged {
					fault.damage(f, r, i)
				}
				f.checkRepaired(damaged)
			})
		}
	}
}

// checkRepaired checks a fixture whose damaged drives were damaged: every object reads
// back exactly, before and after a restart; a heal restores every drive (a second one finds
// nothing to do); and after it the loss of as many other drives still leaves everything
// readable.
func (f *fixture) checkRepaired(damaged []int) {
	f.t.Helper()
	f.checkAll("after damage")
	f.open(f.drives) // as after a restart: wiped drives are formatted again
	f.checkAll("after restart")
	if healed := f.healAll(); healed == 0 {
		f.t.Fatal("heal found nothing to do on damaged drives")
	}
	if again := f.healAll(); again != 0 {
		f.t.Fatalf("a second heal still healed %d objects: the first left damage", again)
	}
	// Lose as many drives other than the healed ones: only healed copies remain there.
	others := 0
	for i := 0; i < len(f.drives) && others < len(damaged); i++ {
		if !contains(damaged, i) {
			f.wipe(i)
			others++
		}
	}
	f.checkAll("after heal and the loss of other drives")
}

// TestMetadataHereDataThere corrupts every object's metadata on one drive and its shards on
// another: each object then has one bad copy of each kind, on different drives.
func TestMetadataHereDataThere(t *testing.T) {
	f := newFixture(t, 4, 2)
	r := rand.New(rand.NewPCG(4, 2))
	_, metas := f.files(0)
	shards, _ := f.files(1)
	corrupt(t, r, metas)
	corrupt(t, r, shards)
	f.checkRepaired([]int{0, 1})
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestBeyondParity checks that losing more than m drives gives a read-quorum error, never
// wrong data.
func TestBeyondParity(t *testing.T) {
	f := newFixture(t, 4, 2)
	f.wipe(0)
	f.wipe(1)
	f.wipe(2)
	for key := range f.objects {
		_, err := f.d.OpenObject(context.Background(), faultBucket, key)
		if err == nil {
			t.Fatalf("OpenObject(%s) with 3 of 4 drives wiped succeeded", key)
		}
		if !errorsIsAny(err, objstore.ErrReadQuorum, objstore.ErrObjectNotFound, objstore.ErrBucketNotFound) {
			t.Fatalf("OpenObject(%s): %v, want a quorum or not-found error", key, err)
		}
	}
}

// TestShuffledDrives restarts with the drives in another order: the formats put them back.
func TestShuffledDrives(t *testing.T) {
	f := newFixture(t, 8, 2)
	shuffled := append([]string(nil), f.drives...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	f.open(shuffled)
	f.checkAll("after restart with shuffled drives")
	if healed := f.healAll(); healed != 0 {
		t.Fatalf("shuffled drives needed %d heals: they were not put back in place", healed)
	}
}

// TestForeignDrive refuses a drive of another deployment.
func TestForeignDrive(t *testing.T) {
	a := newFixture(t, 4, 2)
	b := newFixture(t, 4, 2)
	mixed := append(append([]string(nil), a.drives[:3]...), b.drives[0])
	_, err := deploy.Open(context.Background(), deploy.Config{Drives: mixed, Parity: 2})
	if err == nil || !strings.Contains(err.Error(), "another deployment") {
		t.Fatalf("opening with a foreign drive: %v", err)
	}
	_, err = deploy.Open(context.Background(), deploy.Config{Drives: a.drives[:3], Parity: 2})
	if err == nil {
		t.Fatal("opening 3 of a deployment's 4 drives succeeded")
	}
}
