package local

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkRsyncPattern is what rsync through the mount asks of each drive per file: a
// small object's commit under a temporary key (logged), then its rename to the file's
// name; "put" is the commit alone. On a drive with a redo log; TMPDIR on the file system
// to measure (a journaled ext4 image).
//
//	go test -run '^$' -bench BenchmarkRsyncPattern -benchtime 2000x ./objstore/storage/local/
func BenchmarkRsyncPattern(b *testing.B) {
	ctx := context.Background()
	data := bytes.Repeat([]byte{7}, 1000)
	for _, rename := range []bool{false, true} {
		name := "put"
		if rename {
			name = "put+rename"
		}
		b.Run(name, func(b *testing.B) {
			d, err := Open(b.TempDir(), Options{RedoLog: true, RedoLogSize: 16 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if err := d.MakeVolume(ctx, "bkt"); err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				tmp, final := fmt.Sprintf("d/.f%d.tmp", i), fmt.Sprintf("d/f%d", i)
				if err := d.CommitObject(ctx, "bkt", tmp, data, "", ""); err != nil {
					b.Fatal(err)
				}
				if rename {
					if err := d.RenameObject(ctx, "bkt", tmp, final); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
