package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// danglingKey is the key the dangling tests leave in pieces.
const danglingKey = "dangle/obj"

// metaPath is drive i's metadata file of key.
func (f *fixture) metaPath(i int, key string) string {
	return filepath.Join(f.drives[i], faultBucket, filepath.FromSlash(key)+"%m")
}

// versionRecords writes danglingKey twice and returns every drive's metadata file of each
// version, then deletes the key: the records are what a write cut off by a crash, or a
// delete a drive missed, leaves behind.
func (f *fixture) versionRecords() (first, second [][]byte) {
	f.t.Helper()
	read := func() [][]byte {
		var recs [][]byte
		for i := range f.drives {
			b, err := os.ReadFile(f.metaPath(i, danglingKey))
			if err != nil {
				f.t.Fatal(err)
			}
			recs = append(recs, b)
		}
		return recs
	}
	for _, body := range []string{"first version", "second version"} {
		if _, err := f.d.PutObject(context.Background(), faultBucket, danglingKey, strings.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
			f.t.Fatal(err)
		}
		if first == nil {
			first = read()
		} else {
			second = read()
		}
	}
	if err := f.d.DeleteObject(context.Background(), faultBucket, danglingKey); err != nil {
		f.t.Fatal(err)
	}
	return first, second
}

// plant puts back drive i's record rec of danglingKey.
func (f *fixture) plant(i int, rec []byte) {
	f.t.Helper()
	p := f.metaPath(i, danglingKey)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, rec, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// healKey heals danglingKey alone.
func (f *fixture) healKey() (erasureset.HealResult, error) {
	return f.d.Sets()[0].HealObject(context.Background(), faultBucket, danglingKey, true)
}

// left returns the drives that still hold a record of danglingKey.
func (f *fixture) left() []int {
	var on []int
	for i := range f.drives {
		if _, err := os.Stat(f.metaPath(i, danglingKey)); err == nil {
			on = append(on, i)
		}
	}
	return on
}

// TestHealRemovesDangling: copies of a key that no read quorum holds and none ever can
// (each version is missing, positively, on more drives than its parity) are removed by
// heal, reported as dangling, and a second heal finds nothing; the other objects are
// untouched. With 2+2: one version on one drive, another on a second, "not found" on the
// other two (a write cut off by a kill after one drive, over a delete a drive missed); or
// one version on one drive, its record corrupt on another, "not found" on two.
func TestHealRemovesDangling(t *testing.T) {
	cases := []struct {
		name  string
		plant func(f *fixture, first, second [][]byte)
	}{
		{"two versions, one drive each", func(f *fixture, first, second [][]byte) {
			f.plant(0, first[0])
			f.plant(1, second[1])
		}},
		{"one version, a corrupt record, two not found", func(f *fixture, first, second [][]byte) {
			f.plant(0, first[0])
			bad := bytes.Clone(first[1])
			bad[len(bad)/2] ^= 0x5a
			f.plant(1, bad)
		}},
		{"one version, three not found", func(f *fixture, first, second [][]byte) {
			f.plant(2, second[2])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 4, 2)
			first, second := f.versionRecords()
			tc.plant(f, first, second)
			if _, err := f.d.StatObject(context.Background(), faultBucket, danglingKey); err == nil {
				t.Fatal("the dangling key reads as an object")
			}
			res, err := f.healKey()
			if err != nil || !res.Dangling {
				t.Fatalf("heal of the dangling key: %+v, %v; want it removed as dangling", res, err)
			}
			if on := f.left(); len(on) > 0 {
				t.Fatalf("records of the dangling key left on drives %v", on)
			}
			if n := f.healAll(); n != 0 {
				t.Fatalf("a second heal still found %d objects to work on", n)
			}
			f.checkAll("after removing the dangling key")
		})
	}
}

// TestHealKeepsUndecided: the same pieces with a drive that cannot be read (offline, or
// failing its reads) are not dangling, since that drive might hold a version: heal
// reports the missing quorum and removes nothing; once the drive answers "not found",
// the next heal removes them.
func TestHealKeepsUndecided(t *testing.T) {
	f := newFixture(t, 4, 2)
	first, second := f.versionRecords()
	f.plant(0, first[0])
	f.plant(1, second[1])
	f.d.Close()
	var bad *faulty.Drive
	n := 0
	f.reopen(func(d storage.Drive) storage.Drive {
		fd := faulty.Wrap(d)
		if n == 3 {
			bad = fd
		}
		n++
		return fd
	})
	bad.Fail("ReadMeta", storage.ErrFaulty)
	res, err := f.healKey()
	if !errors.Is(err, objstore.ErrReadQuorum) || res.Dangling {
		t.Fatalf("heal with drive 4 unreadable: %+v, %v; want no read quorum and nothing removed", res, err)
	}
	if on := f.left(); len(on) != 2 {
		t.Fatalf("records left on drives %v, want 0 and 1", on)
	}
	bad.Clear()
	if res, err := f.healKey(); err != nil || !res.Dangling || len(f.left()) != 0 {
		t.Fatalf("heal with drive 4 back: %+v, %v, records on %v; want them removed", res, err, f.left())
	}
	f.checkAll("after removing the dangling key")
}
