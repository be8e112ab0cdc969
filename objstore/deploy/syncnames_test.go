package deploy_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
)

const groupMeta = "x-amz-meta-flashstor-link-group"

// TestSyncNamesRecovered leaves the states that a crash leaves in the middle of a commit,
// a link, an unlink and a rename of a file with hard links (the intent committed, some
// names changed, others not) and reopens the deployment: every name is then the same
// file, content and list of names, and the removed names are gone.
func TestSyncNamesRecovered(t *testing.T) {
	old, new := []byte("old content"), bytes.Repeat([]byte("new content "), 30000)
	names := []string{"a/k0", "b/k1", "c/k2"}
	for _, c := range []struct {
		name string
		rec  journal.Record
		// act changes some of the names, as the interrupted operation had.
		act         func(t *testing.T, d *deploy.Deployment)
		wantNames   []string
		wantContent []byte
		gone        []string
	}{
		{"commit, first name written", journal.Record{Src: "a/k0", Names: names},
			func(t *testing.T, d *deploy.Deployment) { putName(t, d, "a/k0", new, names) }, names, new, nil},
		{"commit, two names written", journal.Record{Src: "a/k0", Names: names},
			func(t *testing.T, d *deploy.Deployment) {
				putName(t, d, "a/k0", new, names)
				putName(t, d, "b/k1", new, names)
			}, names, new, nil},
		{"commit, nothing written", journal.Record{Src: "a/k0", Names: names},
			func(*testing.T, *deploy.Deployment) {}, names, old, nil},
		{"link, copy made", journal.Record{Src: "a/k0", Names: append(slices.Clone(names), "d/k3")},
			func(t *testing.T, d *deploy.Deployment) {
				putName(t, d, "d/k3", old, append(slices.Clone(names), "d/k3"))
			}, append(slices.Clone(names), "d/k3"), old, nil},
		{"link, nothing made", journal.Record{Src: "a/k0", Names: append(slices.Clone(names), "d/k3")},
			func(*testing.T, *deploy.Deployment) {}, append(slices.Clone(names), "d/k3"), old, nil},
		{"unlink, name deleted", journal.Record{Src: "a/k0", Names: []string{"a/k0", "c/k2"}, Removed: []string{"b/k1"}},
			func(t *testing.T, d *deploy.Deployment) {
				if err := d.DeleteObject(context.Background(), "bkt", "b/k1"); err != nil {
					t.Fatal(err)
				}
			}, []string{"a/k0", "c/k2"}, old, []string{"b/k1"}},
		{"unlink of the source", journal.Record{Src: "b/k1", Names: []string{"b/k1", "c/k2"}, Removed: []string{"a/k0"}},
			func(*testing.T, *deploy.Deployment) {}, []string{"b/k1", "c/k2"}, old, []string{"a/k0"}},
		{"rename of a name, moved", journal.Record{Src: "b/k1", Names: []string{"z/k0", "b/k1", "c/k2"}, Removed: []string{"a/k0"}},
			func(t *testing.T, d *deploy.Deployment) {
				if _, err := d.RenameObject(context.Background(), "bkt", "a/k0", "z/k0", objstore.RenameOptions{}); err != nil {
					t.Fatal(err)
				}
			}, []string{"z/k0", "b/k1", "c/k2"}, old, []string{"a/k0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			drives := []string{filepath.Join(t.TempDir(), "d{1...4}")}
			d := openDeployment(t, drives)
			if err := d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, k := range names {
				putName(t, d, k, old, names)
			}
			s := d.Sets()[0]
			k, m := s.Geometry()
			j, err := journal.New(s.Drives(), erasureset.WriteQuorum(k, m), nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := c.rec
			rec.Op, rec.Bucket, rec.KeyLists, rec.Meta = journal.OpSyncNames, "bkt", []string{linksMeta}, map[string]string{groupMeta: "g1"}
			if _, err := j.Begin(ctx, &rec); err != nil {
				t.Fatal(err)
			}
			c.act(t, d)
			d.Close()
			d = openDeployment(t, drives)
			defer d.Close()
			for _, k := range c.wantNames {
				info, err := d.StatObject(ctx, "bkt", k)
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				if got := readAll(t, ctx, d, "bkt", k); !bytes.Equal(got, c.wantContent) {
					t.Fatalf("%s: %d bytes, want %d", k, len(got), len(c.wantContent))
				}
				if got, want := info.Metadata[linksMeta], keyList(c.wantNames...); got != want {
					t.Fatalf("%s lists %q, want %q", k, got, want)
				}
				if info.Metadata[groupMeta] != "g1" {
					t.Fatalf("%s: group %q", k, info.Metadata[groupMeta])
				}
			}
			for _, k := range c.gone {
				if _, err := d.StatObject(ctx, "bkt", k); err == nil {
					t.Fatalf("%s is still there", k)
				}
			}
			if live, undecided, err := j.Pending(ctx); len(live) != 0 || undecided != 0 || err != nil {
				t.Fatalf("journal after the reopen: %d live, %d undecided, %v", len(live), undecided, err)
			}
		})
	}
}

// TestSyncNamesToOne: an unlink that leaves one name leaves it without link metadata.
func TestSyncNamesToOne(t *testing.T) {
	ctx := context.Background()
	d := openDeployment(t, []string{filepath.Join(t.TempDir(), "d{1...4}")})
	defer d.Close()
	if err := d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	names := []string{"x", "y"}
	for _, k := range names {
		putName(t, d, k, []byte("c"), names)
	}
	end, err := d.BeginNameSync(ctx, "bkt", objstore.NameSync{Src: "x", Names: []string{"x"}, Removed: []string{"y"},
		KeyList: linksMeta, Meta: map[string]string{groupMeta: "g1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Active: a recovery in this process leaves it alone.
	if n, _, err := d.Pool.RecoverJournal(ctx); n != 0 || err != nil {
		t.Fatalf("a recovery completed %d active intents (%v)", n, err)
	}
	if _, err := d.StatObject(ctx, "bkt", "y"); err != nil {
		t.Fatalf("an active intent was run: %v", err)
	}
	// Left to recovery, as after a failure part way.
	if err := end(false); err != nil {
		t.Fatal(err)
	}
	if n, _, err := d.Pool.RecoverJournal(ctx); n != 1 || err != nil {
		t.Fatalf("recovery completed %d intents (%v), want 1", n, err)
	}
	info, err := d.StatObject(ctx, "bkt", "x")
	if err != nil || info.Metadata[linksMeta] != "" || info.Metadata[groupMeta] != "" {
		t.Fatalf("the last name: %v, metadata %v", err, info.Metadata)
	}
	if _, err := d.StatObject(ctx, "bkt", "y"); err == nil {
		t.Fatal("the removed name is still there")
	}
}

func putName(t *testing.T, d *deploy.Deployment, key string, content []byte, names []string) {
	t.Helper()
	md := map[string]string{linksMeta: keyList(names...), groupMeta: "g1"}
	if _, err := d.PutObject(context.Background(), "bkt", key, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}
}
