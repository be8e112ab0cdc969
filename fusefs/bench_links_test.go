package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkLinks measures what hard links and special files cost on the mount, beside the
// same operations on a local directory (on the disk that holds the drives) and beside what
// they cost in the core called directly: µs per operation, each the mean of a batch.
//
//	go test -run '^$' -bench BenchmarkLinks -benchtime 1x ./fusefs/
func BenchmarkLinks(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("mknod of a device needs root")
	}
	base := b.TempDir()
	l := layerAt(b, filepath.Join(base, "d{1...4}"))
	ctx := context.Background()
	must(b, "MakeBucket", l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}))
	mnt := filepath.Join(mountLayer(b, l, Options{}), testBucket)
	const small, big = 4 << 10, 1 << 20
	const batch, bigBatch = 200, 20
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, side := range []struct{ name, root string }{
			{"local", filepath.Join(base, fmt.Sprintf("local-%d", i))},
			{"mount", filepath.Join(mnt, fmt.Sprintf("m-%d", i))},
		} {
			must(b, "mkdir", os.MkdirAll(side.root, 0o755))
			in := func(f string, args ...any) string { return filepath.Join(side.root, fmt.Sprintf(f, args...)) }
			per := func(what string, n int, op func(j int) error) {
				start := time.Now()
				for j := range n {
					if err := op(j); err != nil {
						b.Fatalf("%s %s %d: %v", side.name, what, j, err)
					}
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n), side.name+"-"+what+"-µs/op")
			}
			smallData, bigData := pattern(small, 1), pattern(big, 2)
			per("create-4KiB", batch, func(j int) error { return os.WriteFile(in("f%d", j), smallData, 0o644) })
			per("link-4KiB", batch, func(j int) error { return os.Link(in("f%d", j), in("l%d", j)) })
			per("unlink-linked", batch, func(j int) error { return os.Remove(in("l%d", j)) })
			per("unlink", batch, func(j int) error { return os.Remove(in("f%d", j)) })
			per("create-1MiB", bigBatch, func(j int) error { return os.WriteFile(in("g%d", j), bigData, 0o644) })
			per("link-1MiB", bigBatch, func(j int) error { return os.Link(in("g%d", j), in("h%d", j)) })
			// A commit of new content (in place, same size) through one of n names.
			for _, names := range []int{1, 2, 4} {
				must(b, "write", os.WriteFile(in("w%d", names), bigData, 0o644))
				for k := 1; k < names; k++ {
					must(b, "link", os.Link(in("w%d", names), in("w%d-%d", names, k)))
				}
				per(fmt.Sprintf("rewrite-1MiB-%dnames", names), bigBatch, func(j int) error {
					return rewrite(in("w%d", names), pattern(big, byte(j)))
				})
				per(fmt.Sprintf("chmod-%dnames", names), batch, func(j int) error {
					return os.Chmod(in("w%d", names), os.FileMode(0o600|j%2*0o44))
				})
			}
			per("mkfifo", batch, func(j int) error { return syscall.Mkfifo(in("p%d", j), 0o644) })
			per("mknod-chr", batch, func(j int) error { return syscall.Mknod(in("c%d", j), syscall.S_IFCHR|0o600, 1<<8|3) })
			per("unlink-fifo", batch, func(j int) error { return os.Remove(in("p%d", j)) })
		}
		// The core alone: a server-side copy (what link and each extra name of a commit
		// cost) and an intent of the journal (what each change of a linked file adds).
		for j := range bigBatch {
			_, err := l.PutObject(ctx, testBucket, fmt.Sprintf("core/g%d", j), bytes.NewReader(pattern(big, 3)), big, objstore.PutOptions{})
			must(b, "put", err)
		}
		start := time.Now()
		for j := range bigBatch {
			_, err := l.CopyObject(ctx, objstore.ObjectRef{Bucket: testBucket, Key: fmt.Sprintf("core/g%d", j)},
				objstore.ObjectRef{Bucket: testBucket, Key: fmt.Sprintf("core/h%d", j)}, objstore.CopyOptions{})
			must(b, "copy", err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/bigBatch, "layer-copy-1MiB-µs/op")
		ns := l.(objstore.NameSyncer)
		start = time.Now()
		for j := range batch {
			end, err := ns.BeginNameSync(ctx, testBucket, objstore.NameSync{Src: "core/g0", Names: []string{"core/g0", "core/h0"},
				KeyList: metaLinks, Meta: map[string]string{metaLinkGroup: fmt.Sprint(j)}})
			must(b, "begin", err)
			must(b, "end", end(true))
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/batch, "layer-intent-µs/op")
	}
}

// rewrite writes data over the start of an existing file of the same size, in place.
func rewrite(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
