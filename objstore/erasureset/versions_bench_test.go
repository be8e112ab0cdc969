package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// manyVersions returns a set of 4 drives (2+2) whose key "k" of bucket "bench-bucket" holds n
// versions: a real 4 KiB object on top, and n-1 noncurrent versions like it (their data
// directories are not written: only the record is read here).
func manyVersions(b testing.TB, n int) *Set {
	b.Helper()
	var drives []storage.Drive
	for range 4 {
		d, err := local.Open(b.TempDir(), local.Options{})
		if err != nil {
			b.Fatal(err)
		}
		drives = append(drives, d)
	}
	s, err := New(Config{Drives: drives, Parity: 2})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.MakeBucket(ctx, "bench-bucket"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("v"), 4<<10)
	opts := objstore.PutOptions{Versioning: objstore.VersioningEnabled, Metadata: map[string]string{"content-type": "application/octet-stream"}}
	if _, err := s.PutObject(ctx, "bench-bucket", "k", bytes.NewReader(body), int64(len(body)), opts, nil); err != nil {
		b.Fatal(err)
	}
	before, err := s.readVersion(ctx, "bench-bucket", "k")
	if err != nil {
		b.Fatal(err)
	}
	rec := *before.current
	rec.Noncurrent = make([]meta.Object, n-1)
	for i := range rec.Noncurrent {
		v := asNoncurrent(before.current)
		v.ID, v.DataDir = newID(), newID()
		rec.Noncurrent[i] = v
	}
	if err := s.commitRecord(ctx, "bench-bucket", "k", &rec, before); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkManyVersions measures one key holding 1, 1,000 and 10,000 versions (the limit,
// meta.MaxVersions): a put of a new version (4 KiB, which rewrites the record; the version
// is deleted again, untimed, to stay at the count), a GET of the latest (open, read 4 KiB,
// close), a HEAD, and a listing of every version of the key.
func BenchmarkManyVersions(b *testing.B) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("p"), 4<<10)
	for _, n := range []int{1, 1000, meta.MaxVersions - 1} {
		s := manyVersions(b, n)
		b.Run(fmt.Sprintf("versions=%d/put", n), func(b *testing.B) {
			opts := objstore.PutOptions{Versioning: objstore.VersioningEnabled}
			for range b.N {
				info, err := s.PutObject(ctx, "bench-bucket", "k", bytes.NewReader(body), int64(len(body)), opts, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := s.DeleteVersion(ctx, "bench-bucket", "k", objstore.DeleteOptions{VersionID: info.Version.VersionID}, objstore.VersioningEnabled); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("versions=%d/get-latest", n), func(b *testing.B) {
			buf := make([]byte, 4<<10)
			for range b.N {
				h, err := s.OpenObject(ctx, "bench-bucket", "k")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(io.NewSectionReader(h, 0, h.Info().Size), buf); err != nil {
					b.Fatal(err)
				}
				h.Close()
			}
		})
		b.Run(fmt.Sprintf("versions=%d/head", n), func(b *testing.B) {
			raw, err := s.drives[0].ReadMeta(ctx, "bench-bucket", "k")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(raw)), "record-bytes")
			for range b.N {
				if _, err := s.StatObject(ctx, "bench-bucket", "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("versions=%d/list", n), func(b *testing.B) {
			for range b.N {
				listed := 0
				err := s.Walk(ctx, "bench-bucket", storage.WalkOptions{Recursive: true, WithMeta: true}, func(e Entry) error {
					listed += len(Versions("bench-bucket", e.Key, e.Record))
					return nil
				})
				if err != nil || listed != n {
					b.Fatalf("listed %d versions, %v", listed, err)
				}
			}
		})
	}
}

// TestTooManyVersions: a key takes versions up to meta.MaxVersions and refuses the next
// one, delete markers included, leaving its record as it was.
func TestTooManyVersions(t *testing.T) {
	ctx := context.Background()
	s := manyVersions(t, meta.MaxVersions-1)
	opts := objstore.PutOptions{Versioning: objstore.VersioningEnabled}
	if _, err := s.PutObject(ctx, "bench-bucket", "k", bytes.NewReader(nil), 0, opts, nil); err != nil {
		t.Fatalf("version %d: %v", meta.MaxVersions, err)
	}
	if _, err := s.PutObject(ctx, "bench-bucket", "k", bytes.NewReader([]byte("x")), 1, opts, nil); !errors.Is(err, objstore.ErrTooManyVersions) {
		t.Fatalf("version %d: %v, want ErrTooManyVersions", meta.MaxVersions+1, err)
	}
	if _, err := s.DeleteVersion(ctx, "bench-bucket", "k", objstore.DeleteOptions{}, objstore.VersioningEnabled); !errors.Is(err, objstore.ErrTooManyVersions) {
		t.Fatalf("a delete marker beyond the limit: %v, want ErrTooManyVersions", err)
	}
	v, err := s.readVersion(ctx, "bench-bucket", "k")
	if err != nil || versionCount(v.current) != meta.MaxVersions {
		t.Fatalf("record after refusals: %v versions, %v", versionCount(v.current), err)
	}
	if entries, _ := s.drives[0].ListDir(ctx, storage.SysVolume, "tmp"); len(entries) != 0 {
		t.Fatalf("staging left behind: %v", entries)
	}
}
