package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
)

const linksMeta = "x-amz-meta-flashstor-links"

// renameTree is the tree a prefix rename test moves: a marker, files at two depths, and two
// names of a hard-linked file (one inside, one outside) whose key lists name each other.
type renameTree struct {
	files map[string][]byte // key below the prefix (without it) -> content
}

func newRenameTree(n int) renameTree {
	t := renameTree{files: map[string][]byte{"": nil}}
	for i := range n {
		t.files[fmt.Sprintf("f%03d", i)] = bytes.Repeat([]byte{byte(i)}, 100+i*37)
		t.files[fmt.Sprintf("sub/g%03d", i)] = []byte(fmt.Sprintf("content of g%03d", i))
	}
	t.files["linked"] = []byte("linked content")
	return t
}

func keyList(keys ...string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q", k)
	}
	b.WriteString("]")
	return url.QueryEscape(b.String())
}

// put writes the tree below prefix, and outside/linked as the other name of prefix+linked.
func (rt renameTree) put(t *testing.T, l objstore.ObjectLayer, prefix string) {
	t.Helper()
	ctx := context.Background()
	links := keyList(prefix+"linked", "outside/linked")
	for k, v := range rt.files {
		md := map[string]string{}
		if k == "linked" {
			md[linksMeta] = links
		}
		if _, err := l.PutObject(ctx, "bkt", prefix+k, bytes.NewReader(v), int64(len(v)), objstore.PutOptions{Metadata: md}); err != nil {
			t.Fatal(err)
		}
	}
	v := rt.files["linked"]
	if _, err := l.PutObject(ctx, "bkt", "outside/linked", bytes.NewReader(v), int64(len(v)), objstore.PutOptions{Metadata: map[string]string{linksMeta: links}}); err != nil {
		t.Fatal(err)
	}
}

// check verifies that the whole tree is below prefix, byte for byte, that nothing is left
// below gone, and that both names of the linked file list its new key.
func (rt renameTree) check(t *testing.T, l objstore.ObjectLayer, prefix, gone string) {
	t.Helper()
	ctx := context.Background()
	res, err := l.ListObjects(ctx, "bkt", objstore.ListOptions{Prefix: gone, MaxKeys: 10})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("below %s after the rename: %d objects (%v)", gone, len(res.Objects), err)
	}
	res, err = l.ListObjects(ctx, "bkt", objstore.ListOptions{Prefix: prefix, MaxKeys: 10000})
	if err != nil || len(res.Objects) != len(rt.files) {
		t.Fatalf("below %s after the rename: %d objects, want %d (%v)", prefix, len(res.Objects), len(rt.files), err)
	}
	for k, want := range rt.files {
		h, err := l.OpenObject(ctx, "bkt", prefix+k)
		if err != nil {
			t.Fatalf("%s%s: %v", prefix, k, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
		h.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s%s: %d bytes (%v), want %d", prefix, k, len(got), err, len(want))
		}
	}
	want := keyList(prefix+"linked", "outside/linked")
	for _, k := range []string{prefix + "linked", "outside/linked"} {
		info, err := l.StatObject(ctx, "bkt", k)
		if err != nil || info.Metadata[linksMeta] != want {
			t.Fatalf("%s lists %q (%v), want %q", k, info.Metadata[linksMeta], err, want)
		}
	}
}

func openDeployment(t *testing.T, drives []string) *deploy.Deployment {
	t.Helper()
	d, err := deploy.Open(context.Background(), deploy.Config{Drives: drives, Parity: -1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRenamePrefix renames a tree with RenamePrefix on one set of 1 and 4 drives and on
// several sets (keys move across sets), onto nothing and onto an empty directory's marker.
func TestRenamePrefix(t *testing.T) {
	for _, n := range []int{1, 4, 20} {
		t.Run(fmt.Sprintf("%d drives", n), func(t *testing.T) {
			ctx := context.Background()
			d := openDeployment(t, []string{filepath.Join(t.TempDir(), fmt.Sprintf("d{1...%d}", n))})
			defer d.Close()
			if err := d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			rt := newRenameTree(20)
			rt.put(t, d, "src/")
			if err := d.RenamePrefix(ctx, "bkt", "src/", "dst/", objstore.RenamePrefixOptions{KeyLists: []string{linksMeta}}); err != nil {
				t.Fatal(err)
			}
			rt.check(t, d, "dst/", "src/")
			// Onto an empty directory, from a source without a marker: the marker goes.
			delete(rt.files, "")
			if err := d.DeleteObject(ctx, "bkt", "dst/"); err != nil {
				t.Fatal(err)
			}
			if _, err := d.PutObject(ctx, "bkt", "empty/", bytes.NewReader(nil), 0, objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := d.RenamePrefix(ctx, "bkt", "dst/", "empty/", objstore.RenamePrefixOptions{KeyLists: []string{linksMeta}}); err != nil {
				t.Fatal(err)
			}
			rt.check(t, d, "empty/", "dst/")
			// A key that would grow too long: nothing moves.
			long := strings.Repeat("x", 1000)
			if err := d.RenamePrefix(ctx, "bkt", "empty/", long+"/", objstore.RenamePrefixOptions{}); !errors.Is(err, objstore.ErrKeyTooLong) {
				t.Fatalf("a rename to a key over 1024 bytes: %v, want ErrKeyTooLong", err)
			}
			rt.check(t, d, "empty/", "dst/")
			if live, undecided, err := d.Pool.RecoverJournal(ctx); live != 0 || undecided != 0 || err != nil {
				t.Fatalf("journal after whole renames: %d completed, %d undecided, %v", live, undecided, err)
			}
		})
	}
}

// TestRenamePrefixRecovered leaves the state that a crash leaves at every point of a prefix
// rename (the intent committed, then 0, some or every key moved, lists not yet rewritten)
// and reopens the deployment: the open completes the rename, the tree is whole under the
// new name, and the journal is empty.
func TestRenamePrefixRecovered(t *testing.T) {
	for _, n := range []int{4, 20} {
		for _, moved := range []int{0, 1, 13, -1, -2} { // -1: every key; -2: one key on half the drives
			t.Run(fmt.Sprintf("%d drives, %d moved", n, moved), func(t *testing.T) {
				ctx := context.Background()
				drives := []string{filepath.Join(t.TempDir(), fmt.Sprintf("d{1...%d}", n))}
				d := openDeployment(t, drives)
				if err := d.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
					t.Fatal(err)
				}
				rt := newRenameTree(10)
				rt.put(t, d, "src/")
				s := d.Sets()[0]
				k, m := s.Geometry()
				j, err := journal.New(s.Drives(), erasureset.WriteQuorum(k, m), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := j.Begin(ctx, &journal.Record{Op: journal.OpRenamePrefix, Bucket: "bkt", Src: "src/", Dst: "dst/", KeyLists: []string{linksMeta}}); err != nil {
					t.Fatal(err)
				}
				res, err := d.ListObjects(ctx, "bkt", objstore.ListOptions{Prefix: "src/", MaxKeys: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if moved == -2 {
					// A crash inside the rename of one object within its set: the drives
					// that renamed it hold it at the new key, the others at the old (with
					// more than 4 drives in a set, neither key then has k drives).
					o := ""
					for _, c := range res.Objects[3:] {
						if d.SetIndex(c.Key) == d.SetIndex("dst/"+c.Key[len("src/"):]) {
							o = c.Key
							break
						}
					}
					if o == "" {
						t.Fatal("no key renames within its set")
					}
					drives := d.Sets()[d.SetIndex(o)].Drives()
					for _, dr := range drives[:len(drives)/2] {
						if err := dr.RenameObject(ctx, "bkt", o, "dst/"+o[len("src/"):]); err != nil {
							t.Fatal(err)
						}
					}
					moved = 3
				}
				for i, o := range res.Objects {
					if i == moved {
						break
					}
					if _, err := d.RenameObject(ctx, "bkt", o.Key, "dst/"+o.Key[len("src/"):], objstore.RenameOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				d.Close()
				d = openDeployment(t, drives)
				defer d.Close()
				rt.check(t, d, "dst/", "src/")
				if live, undecided, err := j.Pending(ctx); len(live) != 0 || undecided != 0 || err != nil {
					t.Fatalf("journal after the reopen: %d live, %d undecided, %v", len(live), undecided, err)
				}
			})
		}
	}
}
