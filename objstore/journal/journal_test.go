package journal

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// drives returns n local drives wrapped for fault injection.
func drives(t *testing.T, n int) ([]storage.Drive, []*faulty.Drive) {
	t.Helper()
	ds := make([]storage.Drive, n)
	fs := make([]*faulty.Drive, n)
	for i := range ds {
		d, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fs[i] = faulty.Wrap(d)
		ds[i] = fs[i]
	}
	return ds, fs
}

var errInjected = fmt.Errorf("%w: injected", storage.ErrFaulty)

func TestBeginDonePending(t *testing.T) {
	ctx := context.Background()
	ds, _ := drives(t, 4)
	j, err := New(ds, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Begin(ctx, sampleRecord())
	if err != nil {
		t.Fatal(err)
	}
	live, undecided, err := j.Pending(ctx)
	if err != nil || undecided != 0 || len(live) != 1 || live[0].ID != id || live[0].Record.Src != sampleRecord().Src {
		t.Fatalf("after Begin: live %+v, undecided %d, err %v", live, undecided, err)
	}
	if err := j.Done(ctx, id); err != nil {
		t.Fatal(err)
	}
	if live, undecided, err := j.Pending(ctx); err != nil || undecided != 0 || len(live) != 0 {
		t.Fatalf("after Done: live %+v, undecided %d, err %v", live, undecided, err)
	}
}

// The decisions of the package documentation, with 4 drives and W = 3: a record on 2 or
// more drives is live; on 1 it is dead if every drive answers (and is removed), undecided
// otherwise; a record Begin could not commit is not left live.
func TestPendingQuorum(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		on          []int // drives holding the record
		offline     []int // drives that fail every call during Pending
		live, undec int
		removed     bool // the record is gone from every drive afterwards
	}{
		{"on all", []int{0, 1, 2, 3}, nil, 1, 0, false},
		{"on two", []int{0, 1}, nil, 1, 0, false},
		{"on two, two offline", []int{0, 1}, []int{2, 3}, 1, 0, false},
		{"on one, all answer", []int{2}, nil, 0, 0, true},
		{"on one, one offline", []int{2}, []int{0}, 0, 1, false},
		{"on none of the online", nil, []int{3}, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds, fs := drives(t, 4)
			j, _ := New(ds, 3, nil)
			id := j.NewID()
			for _, i := range c.on {
				if err := ds[i].WriteFile(ctx, storage.SysVolume, dir+"/"+id, sampleRecord().Marshal()); err != nil {
					t.Fatal(err)
				}
			}
			for _, i := range c.offline {
				fs[i].Fail("*", errInjected)
			}
			live, undec, err := j.Pending(ctx)
			if wantErr := len(c.offline) > 1; wantErr != errors.Is(err, objstore.ErrReadQuorum) {
				t.Fatalf("Pending with %d drives offline: %v", len(c.offline), err)
			}
			if len(live) != c.live || undec != c.undec {
				t.Fatalf("live %d, undecided %d; want %d, %d", len(live), undec, c.live, c.undec)
			}
			for _, f := range fs {
				f.Clear()
			}
			left := 0
			for _, d := range ds {
				if _, err := d.ReadFile(ctx, storage.SysVolume, dir+"/"+id); err == nil {
					left++
				}
			}
			if c.removed && left != 0 {
				t.Fatalf("a dead record is left on %d drives", left)
			}
			if !c.removed && left != len(c.on) {
				t.Fatalf("the record is on %d drives, want %d", left, len(c.on))
			}
		})
	}
}

func TestBeginWithoutQuorum(t *testing.T) {
	ctx := context.Background()
	ds, fs := drives(t, 4)
	j, _ := New(ds, 3, nil)
	fs[0].Fail("WriteFile", errInjected)
	fs[1].Fail("WriteFile", errInjected)
	if _, err := j.Begin(ctx, sampleRecord()); !errors.Is(err, objstore.ErrWriteQuorum) {
		t.Fatalf("Begin on 2 of 4 drives: %v, want ErrWriteQuorum", err)
	}
	fs[0].Clear()
	fs[1].Clear()
	if live, undec, err := j.Pending(ctx); err != nil || len(live) != 0 || undec != 0 {
		t.Fatalf("after a failed Begin: live %d, undecided %d, err %v", len(live), undec, err)
	}
}

func TestPendingKeepsWhatItCannotRun(t *testing.T) {
	ctx := context.Background()
	ds, _ := drives(t, 1)
	j, _ := New(ds, 1, nil)
	newer := sampleRecord().Marshal()
	newer[4] = Version + 1
	unknown := sampleRecord()
	unknown.Op = "swap"
	for i, b := range [][]byte{newer, unknown.Marshal()} {
		if err := ds[0].WriteFile(ctx, storage.SysVolume, fmt.Sprintf("%s/%032x", dir, i), b); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		live, undec, err := j.Pending(ctx)
		if err != nil || len(live) != 0 || undec != 2 {
			t.Fatalf("live %d, undecided %d, err %v; want 0, 2", len(live), undec, err)
		}
	}
}

// Holds finds a record that names a key (of each op), ignores other buckets and keys, sees
// a record left on a single drive (one Pending would call dead: it still names its keys
// until removed), and, with too few drives listing, answers true with ErrReadQuorum.
func TestHolds(t *testing.T) {
	ctx := context.Background()
	ds, fs := drives(t, 4)
	j, err := New(ds, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(bucket, key string, want bool) {
		t.Helper()
		if got, err := j.Holds(ctx, bucket, key); got != want || err != nil {
			t.Fatalf("Holds(%q, %q) = %v, %v; want %v", bucket, key, got, err, want)
		}
	}
	check("home", "docs/report.odt", false) // no journal directory yet
	id, err := j.Begin(ctx, sampleRenameKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Begin(ctx, sampleRecord()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Begin(ctx, sampleSync()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bucket, key string
		want        bool
	}{
		{"home", "docs/report.odt", true},
		{"home", "docs/.~lock.report.odt#", true},
		{"home", "docs/other", false},
		{"other", "docs/report.odt", false},
		{"photos", "2024/trip/a.jpg", true},
		{"photos", "archive/trip/", true},
		{"photos", "2024/tripx", false},
		{"backup", "snap.0/etc/passwd", true},
		{"backup", "snap.2/etc/passwd", true},
		{"backup", "snap.3/etc/passwd", false},
	} {
		check(c.bucket, c.key, c.want)
	}
	// Removed from all drives but one: still named.
	for _, d := range ds[1:] {
		if err := d.Delete(ctx, storage.SysVolume, dir+"/"+id, false); err != nil {
			t.Fatal(err)
		}
	}
	check("home", "docs/report.odt", true)
	for i := range 2 {
		fs[i].Fail("ListDir", errInjected)
	}
	if got, err := j.Holds(ctx, "home", "docs/other"); !got || !errors.Is(err, objstore.ErrReadQuorum) {
		t.Fatalf("Holds with 2 of 4 drives listing = %v, %v; want true, ErrReadQuorum", got, err)
	}
}
