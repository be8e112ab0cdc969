package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/layout"
)

// openV returns a new deployment of n drives, and the drives' directories.
func openV(t *testing.T, n int) (*deploy.Deployment, []string) {
	t.Helper()
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", n))},
		Parity: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	roots := make([]string, n)
	for i := range roots {
		roots[i] = filepath.Join(dir, fmt.Sprintf("d%d", i+1))
	}
	return d, roots
}

// versionedBucket makes bucket "vers" in d with versioning set to state.
func versionedBucket(t *testing.T, d *deploy.Deployment, state string) {
	t.Helper()
	ctx := context.Background()
	must(t, d.MakeBucket(ctx, "vers", objstore.MakeBucketOptions{}))
	if state != "" {
		must(t, d.SetBucketConfig(ctx, "vers", objstore.BucketConfigVersioning, state))
	}
}

func putString(t *testing.T, l objstore.ObjectLayer, key, body string, opts objstore.PutOptions) objstore.ObjectInfo {
	t.Helper()
	info, err := l.PutObject(context.Background(), "vers", key, strings.NewReader(body), int64(len(body)), opts)
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

// readVersion returns a version's content ("" id: the latest).
func readVersion(t *testing.T, d *deploy.Deployment, key, id string) (string, error) {
	t.Helper()
	h, err := d.OpenVersion(context.Background(), "vers", key, id)
	if err != nil {
		return "", err
	}
	defer h.Close()
	b, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	if err != nil {
		t.Fatalf("reading %s version %s: %v", key, id, err)
	}
	return string(b), nil
}

// versionIDs lists every version of the bucket as "key@id" ("key@id*" for a delete
// marker), in listing order.
func versionIDs(t *testing.T, d *deploy.Deployment, opts objstore.ListVersionsOptions) []string {
	t.Helper()
	res, err := d.ListObjectVersions(context.Background(), "vers", opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, v := range res.Versions {
		s := v.Key + "@" + v.Version.VersionID
		if v.Version.DeleteMarker {
			s += "*"
		}
		latest := i == 0 || res.Versions[i-1].Key != v.Key
		if v.Version.IsLatest != latest {
			t.Fatalf("%s: IsLatest %v", s, v.Version.IsLatest)
		}
		out = append(out, s)
	}
	return out
}

// dataDirs counts the data directories of bucket v on every drive of d.
func dataDirs(t *testing.T, roots []string) int {
	t.Helper()
	n := 0
	for _, root := range roots {
		entries, err := os.ReadDir(filepath.Join(root, "vers", layout.DataDir))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		n += len(entries)
	}
	return n
}

func TestVersionsEnabled(t *testing.T) {
	for _, drives := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d drives", drives), func(t *testing.T) {
			ctx := context.Background()
			d, roots := openV(t, drives)
			versionedBucket(t, d, "Enabled")
			var ids []string
			for i := range 3 {
				info := putString(t, d, "k", fmt.Sprintf("body %d", i), objstore.PutOptions{})
				if info.Version.VersionID == objstore.NullVersion || len(info.Version.VersionID) != 32 {
					t.Fatalf("put %d: version id %q", i, info.Version.VersionID)
				}
				ids = append(ids, info.Version.VersionID)
			}
			if got, want := versionIDs(t, d, objstore.ListVersionsOptions{}), []string{"k@" + ids[2], "k@" + ids[1], "k@" + ids[0]}; !slices.Equal(got, want) {
				t.Fatalf("versions %v, want %v", got, want)
			}
			for i, id := range ids {
				if got, err := readVersion(t, d, "k", id); err != nil || got != fmt.Sprintf("body %d", i) {
					t.Fatalf("version %d: %q, %v", i, got, err)
				}
			}
			if got, _ := readVersion(t, d, "k", ""); got != "body 2" {
				t.Fatalf("latest: %q", got)
			}
			if _, err := d.StatVersion(ctx, "vers", "k", "null"); !errors.Is(err, objstore.ErrNoSuchVersion) {
				t.Fatalf("null version of a key that has none: %v", err)
			}
			if _, err := d.StatVersion(ctx, "vers", "k", strings.Repeat("0", 31)+"1"); !errors.Is(err, objstore.ErrNoSuchVersion) {
				t.Fatalf("unknown version: %v", err)
			}

			// A delete makes a marker; the key is gone from listings of objects, not of versions.
			must(t, d.DeleteObject(ctx, "vers", "k"))
			var dm *objstore.DeleteMarkerError
			if _, err := d.StatObject(ctx, "vers", "k"); !errors.As(err, &dm) || !errors.Is(err, objstore.ErrObjectNotFound) || dm.ByID {
				t.Fatalf("stat after delete: %v", err)
			}
			if _, err := d.StatVersion(ctx, "vers", "k", dm.VersionID); !errors.Is(err, objstore.ErrMethodNotAllowed) {
				t.Fatalf("stat of the marker by id: %v", err)
			}
			if err := d.DeleteObject(ctx, "vers", "k"); !errors.Is(err, objstore.ErrObjectNotFound) {
				t.Fatalf("delete of a deleted key through the plain call: %v", err)
			}
			if res, _ := d.ListObjects(ctx, "vers", objstore.ListOptions{}); len(res.Objects) != 0 {
				t.Fatalf("ListObjects shows %v", res.Objects)
			}
			if got := versionIDs(t, d, objstore.ListVersionsOptions{}); len(got) != 4 || got[0] != "k@"+dm.VersionID+"*" {
				t.Fatalf("versions after delete: %v", got)
			}

			// Restoring an old version: copy it over the key.
			info, err := d.CopyObject(ctx, objstore.ObjectRef{Bucket: "vers", Key: "k"}, objstore.ObjectRef{Bucket: "vers", Key: "k"}, objstore.CopyOptions{SrcVersionID: ids[0]})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := readVersion(t, d, "k", ""); got != "body 0" || info.Version.VersionID == ids[0] {
				t.Fatalf("after restore: %q, id %s", got, info.Version.VersionID)
			}

			// Deleting versions by id, the marker among them, removes their data.
			before := dataDirs(t, roots)
			for _, id := range []string{dm.VersionID, ids[1]} {
				res, err := d.DeleteVersion(ctx, "vers", "k", objstore.DeleteOptions{VersionID: id})
				if err != nil || res.VersionID != id || res.DeleteMarker != (id == dm.VersionID) {
					t.Fatalf("DeleteVersion(%s) = %+v, %v", id, res, err)
				}
			}
			if after := dataDirs(t, roots); after != before-drives {
				t.Fatalf("data directories %d -> %d, want one version's fewer", before, after)
			}
			if _, err := d.DeleteVersion(ctx, "vers", "k", objstore.DeleteOptions{VersionID: ids[1]}); !errors.Is(err, objstore.ErrNoSuchVersion) {
				t.Fatalf("deleting a deleted version: %v", err)
			}
			if got := versionIDs(t, d, objstore.ListVersionsOptions{}); !slices.Equal(got, []string{"k@" + info.Version.VersionID, "k@" + ids[2], "k@" + ids[0]}) {
				t.Fatalf("versions: %v", got)
			}
			// Deleting the latest by id makes the next one the latest.
			if _, err := d.DeleteVersion(ctx, "vers", "k", objstore.DeleteOptions{VersionID: info.Version.VersionID}); err != nil {
				t.Fatal(err)
			}
			if got, _ := readVersion(t, d, "k", ""); got != "body 2" {
				t.Fatalf("latest after deleting the latest: %q", got)
			}
			// The bucket is emptied by deleting every version; then it can be deleted.
			for _, id := range []string{ids[2], ids[0]} {
				if _, err := d.DeleteVersion(ctx, "vers", "k", objstore.DeleteOptions{VersionID: id}); err != nil {
					t.Fatal(err)
				}
			}
			if n := dataDirs(t, roots); n != 0 {
				t.Fatalf("%d data directories left", n)
			}
			must(t, d.DeleteBucket(ctx, "vers"))
		})
	}
}

// TestVersionsSuspended follows S3's rules: a suspended bucket's writes and deletes replace
// the null version and keep the others.
func TestVersionsSuspended(t *testing.T) {
	ctx := context.Background()
	d, roots := openV(t, 4)
	versionedBucket(t, d, "")
	putString(t, d, "k", "unversioned", objstore.PutOptions{}) // inline, format 1
	must(t, d.SetBucketConfig(ctx, "vers", objstore.BucketConfigVersioning, "Enabled"))
	a := putString(t, d, "k", strings.Repeat("a", 200<<10), objstore.PutOptions{})
	if got, err := readVersion(t, d, "k", "null"); err != nil || got != "unversioned" {
		t.Fatalf("the null version once noncurrent: %q, %v", got, err)
	}
	must(t, d.SetBucketConfig(ctx, "vers", objstore.BucketConfigVersioning, "Suspended"))
	n := putString(t, d, "k", "null 2", objstore.PutOptions{})
	if n.Version.VersionID != objstore.NullVersion {
		t.Fatalf("suspended put: version %q", n.Version.VersionID)
	}
	putString(t, d, "k", "null 3", objstore.PutOptions{})
	if got := versionIDs(t, d, objstore.ListVersionsOptions{}); !slices.Equal(got, []string{"k@null", "k@" + a.Version.VersionID}) {
		t.Fatalf("versions: %v", got)
	}
	if got, _ := readVersion(t, d, "k", "null"); got != "null 3" {
		t.Fatalf("null version: %q", got)
	}
	// A delete makes the null version a delete marker.
	res, err := d.DeleteVersion(ctx, "vers", "k", objstore.DeleteOptions{})
	if err != nil || res.VersionID != objstore.NullVersion || !res.DeleteMarker {
		t.Fatalf("suspended delete: %+v, %v", res, err)
	}
	if got := versionIDs(t, d, objstore.ListVersionsOptions{}); !slices.Equal(got, []string{"k@null*", "k@" + a.Version.VersionID}) {
		t.Fatalf("versions: %v", got)
	}
	if n := dataDirs(t, roots); n != 4 {
		t.Fatalf("%d data directories, want version a's on 4 drives", n)
	}
}

// TestVersionsUnversionedFormat: an unversioned bucket's keys stay in format 1, and the
// plain calls behave as before.
func TestVersionsUnversionedFormat(t *testing.T) {
	ctx := context.Background()
	d, roots := openV(t, 4)
	versionedBucket(t, d, "")
	info := putString(t, d, "k", "one", objstore.PutOptions{})
	putString(t, d, "k", "two", objstore.PutOptions{})
	if info.Version.VersionID != objstore.NullVersion {
		t.Fatalf("version %q", info.Version.VersionID)
	}
	for _, root := range roots {
		b, err := os.ReadFile(filepath.Join(root, "vers", layout.ObjectPath("k")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("FSTO\x01")) {
			t.Fatalf("record starts %q, want format 1", b[:5])
		}
	}
	if got := versionIDs(t, d, objstore.ListVersionsOptions{}); !slices.Equal(got, []string{"k@null"}) {
		t.Fatalf("versions: %v", got)
	}
	must(t, d.DeleteObject(ctx, "vers", "k"))
	if got := versionIDs(t, d, objstore.ListVersionsOptions{}); len(got) != 0 {
		t.Fatalf("versions after delete: %v", got)
	}
}

// TestVersionsPaging pages through versions one and two at a time, with and without a
// delimiter, and checks that the pages add up to the whole listing.
func TestVersionsPaging(t *testing.T) {
	ctx := context.Background()
	d, _ := openV(t, 4)
	versionedBucket(t, d, "Enabled")
	for _, k := range []string{"a", "b/1", "b/2", "c", "d"} {
		for i := range 3 {
			putString(t, d, k, fmt.Sprint(i), objstore.PutOptions{})
		}
	}
	must(t, d.DeleteObject(ctx, "vers", "c"))
	for _, delim := range []string{"", "/"} {
		res, err := d.ListObjectVersions(ctx, "vers", objstore.ListVersionsOptions{Delimiter: delim})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, v := range res.Versions {
			all = append(all, v.Key+"@"+v.Version.VersionID)
		}
		all = append(all, res.Prefixes...)
		slices.Sort(all)
		for _, size := range []int{1, 2, 5} {
			var got []string
			opts := objstore.ListVersionsOptions{Delimiter: delim, MaxKeys: size}
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatal("paging does not end")
				}
				res, err := d.ListObjectVersions(ctx, "vers", opts)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Versions)+len(res.Prefixes) > size {
					t.Fatalf("page of %d entries, max %d", len(res.Versions)+len(res.Prefixes), size)
				}
				for _, v := range res.Versions {
					got = append(got, v.Key+"@"+v.Version.VersionID)
				}
				got = append(got, res.Prefixes...)
				if !res.IsTruncated {
					break
				}
				opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
			}
			slices.Sort(got)
			if !slices.Equal(got, all) {
				t.Fatalf("delimiter %q, pages of %d: %v\nwant %v", delim, size, got, all)
			}
		}
		wantLen := 16
		if delim == "/" {
			wantLen = 10 + 1
		}
		if len(all) != wantLen {
			t.Fatalf("delimiter %q: %d entries: %v", delim, len(all), all)
		}
	}
}

// TestObjectLock: retention and legal hold keep a version from being deleted, as S3 rules.
func TestObjectLock(t *testing.T) {
	ctx := context.Background()
	d, _ := openV(t, 4)
	versionedBucket(t, d, "Enabled")
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	gov := putString(t, d, "gov", "g", objstore.PutOptions{Lock: objstore.ObjectLock{Mode: objstore.RetentionGovernance, RetainUntil: until}})
	if gov.Version.Lock.Mode != objstore.RetentionGovernance || !gov.Version.Lock.RetainUntil.Equal(until) {
		t.Fatalf("lock of the put: %+v", gov.Version.Lock)
	}
	del := func(key, id string, bypass bool) error {
		_, err := d.DeleteVersion(ctx, "vers", key, objstore.DeleteOptions{VersionID: id, BypassGovernance: bypass})
		return err
	}
	if err := del("gov", gov.Version.VersionID, false); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("delete under governance: %v", err)
	}
	// A delete marker may go on top of a locked version; the version stays.
	must(t, d.DeleteObject(ctx, "vers", "gov"))
	if got, err := readVersion(t, d, "gov", gov.Version.VersionID); err != nil || got != "g" {
		t.Fatalf("locked version under a marker: %q, %v", got, err)
	}
	if _, err := d.SetObjectLock(ctx, "vers", "gov", gov.Version.VersionID, objstore.LockUpdate{Retention: &objstore.ObjectLock{}}, false); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("removing governance without bypass: %v", err)
	}
	if err := del("gov", gov.Version.VersionID, true); err != nil {
		t.Fatalf("delete with bypass: %v", err)
	}

	comp := putString(t, d, "comp", "c", objstore.PutOptions{Lock: objstore.ObjectLock{Mode: objstore.RetentionCompliance, RetainUntil: until}})
	for _, l := range []objstore.ObjectLock{{}, {Mode: objstore.RetentionGovernance, RetainUntil: until}, {Mode: objstore.RetentionCompliance, RetainUntil: until.Add(-time.Minute)}} {
		if _, err := d.SetObjectLock(ctx, "vers", "comp", comp.Version.VersionID, objstore.LockUpdate{Retention: &l}, true); !errors.Is(err, objstore.ErrObjectLocked) {
			t.Fatalf("weakening compliance to %+v: %v", l, err)
		}
	}
	if err := del("comp", comp.Version.VersionID, true); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("delete under compliance with bypass: %v", err)
	}
	longer := objstore.ObjectLock{Mode: objstore.RetentionCompliance, RetainUntil: until.Add(time.Hour)}
	if info, err := d.SetObjectLock(ctx, "vers", "comp", comp.Version.VersionID, objstore.LockUpdate{Retention: &longer}, false); err != nil || !info.Version.Lock.RetainUntil.Equal(longer.RetainUntil) {
		t.Fatalf("extending compliance: %+v, %v", info.Version.Lock, err)
	}

	held := putString(t, d, "held", "h", objstore.PutOptions{Lock: objstore.ObjectLock{LegalHold: true}})
	if err := del("held", held.Version.VersionID, true); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("delete under legal hold: %v", err)
	}
	// A legal hold and a retention are independent: a retention added, then the hold lifted.
	short := objstore.ObjectLock{Mode: objstore.RetentionGovernance, RetainUntil: time.Now().Add(-time.Second)}
	if _, err := d.SetObjectLock(ctx, "vers", "held", held.Version.VersionID, objstore.LockUpdate{Retention: &short}, false); err != nil {
		t.Fatalf("adding a retention: %v", err)
	}
	if err := del("held", held.Version.VersionID, true); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("delete under legal hold after a retention change: %v", err)
	}
	off := false
	if _, err := d.SetObjectLock(ctx, "vers", "held", held.Version.VersionID, objstore.LockUpdate{LegalHold: &off}, false); err != nil {
		t.Fatalf("lifting the hold: %v", err)
	}
	if err := del("held", held.Version.VersionID, false); err != nil {
		t.Fatalf("delete once the hold is lifted: %v", err)
	}

	// The bypass holds for a key's only version too (its record goes with it).
	only := putString(t, d, "only", "o", objstore.PutOptions{Lock: objstore.ObjectLock{Mode: objstore.RetentionGovernance, RetainUntil: until}})
	if err := del("only", only.Version.VersionID, false); !errors.Is(err, objstore.ErrObjectLocked) {
		t.Fatalf("delete of an only version under governance: %v", err)
	}
	if err := del("only", only.Version.VersionID, true); err != nil {
		t.Fatalf("delete of an only version with bypass: %v", err)
	}

	// An expired retention no longer protects.
	past := putString(t, d, "past", "p", objstore.PutOptions{Lock: objstore.ObjectLock{Mode: objstore.RetentionCompliance, RetainUntil: time.Now().Add(-time.Second)}})
	if err := del("past", past.Version.VersionID, false); err != nil {
		t.Fatalf("delete after the retention date: %v", err)
	}
}

// TestVersionsHealAllVersions: a heal restores a drive's record of every version and the
// data of every version, noncurrent ones included, and a deep heal finds and rebuilds the
// rotten shards of noncurrent versions.
func TestVersionsHealAllVersions(t *testing.T) {
	ctx := context.Background()
	d, roots := openV(t, 4)
	versionedBucket(t, d, "Enabled")
	var ids []string
	for i := range 3 {
		ids = append(ids, putString(t, d, "k", fmt.Sprint("vers", i), objstore.PutOptions{}).Version.VersionID)
	}
	must(t, d.DeleteObject(ctx, "vers", "k"))
	root := roots[1]
	if err := os.Remove(filepath.Join(root, "vers", layout.ObjectPath("k"))); err != nil {
		t.Fatal(err)
	}
	// The drive loses every version's data too, and another drive one shard of the oldest.
	if err := os.RemoveAll(filepath.Join(root, "vers", layout.DataDir)); err != nil {
		t.Fatal(err)
	}
	// Another drive's shards of every version rot (one byte each).
	parts, err := filepath.Glob(filepath.Join(roots[2], "vers", layout.DataDir, "*", "*"))
	if err != nil || len(parts) != 3 {
		t.Fatalf("part files on drive 2: %v, %v", parts, err)
	}
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := d.Sets()[0].HealObject(ctx, "vers", "k", true)
	if err != nil || !slices.Equal(res.Healed, []int{1, 2}) {
		t.Fatalf("heal: %+v, %v", res, err)
	}
	if n := dataDirs(t, roots[1:2]); n != 3 {
		t.Fatalf("the healed drive holds %d data directories, want the 3 versions'", n)
	}
	b, err := os.ReadFile(filepath.Join(root, "vers", layout.ObjectPath("k")))
	if err != nil || !bytes.HasPrefix(b, []byte("FSTO\x02")) {
		t.Fatalf("healed record: %v", err)
	}
	// A second deep heal verifies every shard of every version on every drive: nothing left.
	if res, err := d.Sets()[0].HealObject(ctx, "vers", "k", true); err != nil || len(res.Healed) != 0 {
		t.Fatalf("a second deep heal: %+v, %v", res, err)
	}
	// Every version reads with the healed drives' copies among those used.
	for i, id := range ids {
		if got, err := readVersion(t, d, "k", id); err != nil || got != fmt.Sprint("vers", i) {
			t.Fatalf("version %d after heal: %q, %v", i, got, err)
		}
	}
}

// TestVersionsHealInlineNoncurrent: a null version stored inline before versioning was
// turned on, noncurrent since, is rebuilt onto a drive that lost the key's record, so
// that the drive's shard of it counts again: with the two other drives' records gone
// after the heal, it still reads from the healed drive and the fourth.
func TestVersionsHealInlineNoncurrent(t *testing.T) {
	ctx := context.Background()
	d, roots := openV(t, 4)
	versionedBucket(t, d, "")
	putString(t, d, "k", "the null version, inline", objstore.PutOptions{})
	must(t, d.SetBucketConfig(ctx, "vers", objstore.BucketConfigVersioning, "Enabled"))
	latest := putString(t, d, "k", "a newer version", objstore.PutOptions{}).Version.VersionID
	record := func(i int) string { return filepath.Join(roots[i], "vers", layout.ObjectPath("k")) }
	if err := os.Remove(record(0)); err != nil {
		t.Fatal(err)
	}
	if res, err := d.Sets()[0].HealObject(ctx, "vers", "k", false); err != nil || !slices.Equal(res.Healed, []int{0}) {
		t.Fatalf("heal: %+v, %v", res, err)
	}
	for _, i := range []int{1, 2} {
		if err := os.Remove(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readVersion(t, d, "k", "null"); err != nil || got != "the null version, inline" {
		t.Fatalf("the null version from the healed drive and one other: %q, %v", got, err)
	}
	if got, err := readVersion(t, d, "k", latest); err != nil || got != "a newer version" {
		t.Fatalf("the latest version: %q, %v", got, err)
	}
}

// TestObjectLockPublished: a lock change of the latest version reaches the change feed
// (the mount's caches) as a metadata event carrying the new lock; one of a noncurrent
// version does not (the mount shows the latest only).
func TestObjectLockPublished(t *testing.T) {
	ctx := context.Background()
	d, _ := openV(t, 4)
	versionedBucket(t, d, "Enabled")
	old := putString(t, d, "k", "old", objstore.PutOptions{})
	latest := putString(t, d, "k", "new", objstore.PutOptions{})
	events := make(chan objstore.Event, 16)
	cancel := d.Subscribe("vers", func(e objstore.Event) { events <- e })
	defer cancel()
	hold := true
	for _, id := range []string{old.Version.VersionID, latest.Version.VersionID} {
		if _, err := d.SetObjectLock(ctx, "vers", "k", id, objstore.LockUpdate{LegalHold: &hold}, false); err != nil {
			t.Fatalf("legal hold on %s: %v", id, err)
		}
	}
	select {
	case e := <-events:
		if e.Type != objstore.EventMetadata || e.Key != "k" || e.Info.Version.VersionID != latest.Version.VersionID || !e.Info.Version.Lock.LegalHold {
			t.Fatalf("event: %v %q %+v", e.Type, e.Key, e.Info.Version)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event for the latest version's legal hold")
	}
	select {
	case e := <-events:
		t.Fatalf("a second event: %v %+v", e.Type, e.Info.Version)
	default:
	}
}
