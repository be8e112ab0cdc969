package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// BenchmarkRenameKey measures what the rename-key intent adds to the rename of one object
// within its set (4 KiB, inline: a metadata-only rename), on one set of 4 drives (2+2) and
// of 16 (12+4), all on the machine's one disk. "pool" is RenameObject as the faces call it,
// with its intent (commit and removal); "set" the set's rename alone, no intent (what
// RenameObject cost before); "intent" one journal intent alone (Begin + Done on the same
// drives). The redo-log/ cases open the drives with their redo logs (the server's
// default), where a drive's rename is a record in its log and the tree's rename unsynced.
//
//	go test -run '^$' -bench BenchmarkRenameKey -benchtime 200x ./objstore/deploy/
func BenchmarkRenameKey(b *testing.B) {
	for _, redo := range []bool{false, true} {
		for _, n := range []int{4, 16} {
			benchRenameKey(b, n, redo)
		}
	}
}

func benchRenameKey(b *testing.B, n int, redo bool) {
	{
		ctx := context.Background()
		d, err := deploy.Open(ctx, deploy.Config{Drives: []string{filepath.Join(b.TempDir(), fmt.Sprintf("d{1...%d}", n))}, Parity: min(n/2, 4),
			DriveOptions: local.Options{RedoLog: redo, RedoLogSize: 16 << 20}})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.MakeBucket(ctx, "bench", objstore.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		data := bytes.Repeat([]byte{7}, 4<<10)
		if _, err := d.PutObject(ctx, "bench", "a", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		s := d.Sets()[0]
		k, m := s.Geometry()
		prefix := ""
		if redo {
			prefix = "redo-log/"
		}
		keys := [2]string{"a", "b"}
		b.Run(prefix+fmt.Sprintf("%d+%d/pool", k, m), func(b *testing.B) {
			for i := range b.N {
				if _, err := d.RenameObject(ctx, "bench", keys[i%2], keys[(i+1)%2], objstore.RenameOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			if b.N%2 == 1 {
				keys[0], keys[1] = keys[1], keys[0]
			}
		})
		b.Run(prefix+fmt.Sprintf("%d+%d/set", k, m), func(b *testing.B) {
			for i := range b.N {
				if _, err := s.RenameObject(ctx, "bench", keys[i%2], keys[(i+1)%2], objstore.RenameOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			if b.N%2 == 1 {
				keys[0], keys[1] = keys[1], keys[0]
			}
		})
		j, err := journal.New(s.Drives(), erasureset.WriteQuorum(k, m), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(prefix+fmt.Sprintf("%d+%d/intent", k, m), func(b *testing.B) {
			for range b.N {
				id, err := j.Begin(ctx, &journal.Record{Op: journal.OpRenameKey, Bucket: "bench", Src: "a", Dst: "b"})
				if err != nil {
					b.Fatal(err)
				}
				if err := j.Done(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		d.Close()
	}
}
