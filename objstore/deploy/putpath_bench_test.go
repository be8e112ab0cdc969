package deploy_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/diskbench"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
)

// BenchmarkPutPath measures a large put beside its raw limit in the same run (issue 11):
// every iteration is one round of three phases, each with `conc` clients writing one
// object each at once, so the phases alternate and share the machine's noise:
//
//   - raw-buf: per object, one writer per drive writes that drive's shard bytes (the size a
//     2+2 set writes for the object) to a new file in the drive's directory, buffered,
//     then fdatasync: the limit with the put's durability, without encoding or metadata;
//   - raw-direct: the same with O_DIRECT from an aligned buffer, then fdatasync;
//   - put: PutObject of the object through the object layer (4 drives, 2+2), each client
//     replacing its key's object of the previous round (an overwrite);
//   - md5: each client computes the MD5 of its object's bytes (crypto/md5), which a put
//     must (a single-part object's ETag): the hash's own limit on this CPU, one stream
//     per object, since MD5 cannot be split;
//   - put-md5-given: the put with the digest passed in PutOptions.ContentMD5, as the
//     mount's write-behind and a verified Content-MD5 give it: what the put costs past the
//     hash.
//
// PutPath/new-key/... runs the same with every put to a key never written before (as
// warp's PUT does): nothing is replaced, so no replaced data is removed on the put's path;
// the round's objects are deleted after it, outside the timed phases, so that the drives do
// not fill up.
//
// It reports each phase's object throughput (MB/s of object bytes) and put/limit, the limit
// being the faster raw phase of the run; put/bound divides by the lower of that limit and
// the md5 phase's rate (a put hashes and writes, at best both at once), and
// put-md5-given/limit is the put without the hash against the raw limit. Run with
//
//	go test -run '^$' -bench PutPath -benchtime 10x ./objstore/deploy/
//
// The drives live under $TMPDIR (b.TempDir): point it at the file system to measure. What a
// put syncs depends on it (local's oneCommitFS: ext4 with a journal makes a put's data and
// names durable with one journal commit per drive).
func BenchmarkPutPath(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, conc := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%s/c%d", human(size), conc), func(b *testing.B) {
				benchPutPath(b, size, conc, false)
			})
		}
	}
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, conc := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("new-key/%s/c%d", human(size), conc), func(b *testing.B) {
				benchPutPath(b, size, conc, true)
			})
		}
	}
}

// benchPutPath runs BenchmarkPutPath's rounds; newKeys puts every object to a new key.
func benchPutPath(b *testing.B, size, conc int, newKeys bool) {
	const drives, parity = 4, 2
	root := b.TempDir()
	l := benchLayerAt(b, root, drives, parity, 0)
	codec, err := erasure.New(drives-parity, parity, erasure.DefaultBlockSize, erasure.DefaultBitrot)
	if err != nil {
		b.Fatal(err)
	}
	content := randomBytes(size, 1)
	shards := diskbench.NewShards(content, int(codec.ShardFileSize(int64(size))))
	rawDirs := make([]string, drives)
	for i := range rawDirs {
		rawDirs[i] = filepath.Join(root, fmt.Sprintf("d%d", i+1), storage.SysVolume, "rawbench")
		if err := os.MkdirAll(rawDirs[i], 0o755); err != nil {
			b.Fatal(err)
		}
	}
	ph := diskbench.NewPhases(conc)
	run := func(name string, f func(client int) error) {
		if err := ph.Run(name, f); err != nil {
			b.Fatal(err)
		}
	}
	key := func(round, c int) string {
		if newKeys {
			return fmt.Sprint("k", round, "-", c)
		}
		return fmt.Sprint("k", c)
	}
	digest := md5.Sum(content)
	givenKey := func(round, c int) string { return key(round, c) + "-given" }
	b.ResetTimer()
	for round := range b.N {
		if err := ph.RunRaw(shards, rawDirs); err != nil {
			b.Fatal(err)
		}
		run("put", func(c int) error {
			_, err := l.PutObject(context.Background(), "bench", key(round, c), bytes.NewReader(content), int64(size), objstore.PutOptions{})
			return err
		})
		run("md5", func(int) error {
			if md5.Sum(content) != digest {
				return errors.New("md5 of the same bytes changed")
			}
			return nil
		})
		run("put-md5-given", func(c int) error {
			_, err := l.PutObject(context.Background(), "bench", givenKey(round, c), bytes.NewReader(content), int64(size), objstore.PutOptions{ContentMD5: digest[:]})
			return err
		})
		if newKeys {
			for c := range conc {
				for _, k := range []string{key(round, c), givenKey(round, c)} {
					if err := l.DeleteObject(context.Background(), "bench", k); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	b.StopTimer()
	limit := ph.Limit(size, b.N)
	for _, name := range []string{"raw-buf", "raw-direct", "put", "md5", "put-md5-given"} {
		b.ReportMetric(ph.MBps(name, size, b.N), name+"-MB/s")
	}
	b.ReportMetric(ph.MBps("put", size, b.N)/limit, "put/limit")
	b.ReportMetric(ph.MBps("put", size, b.N)/min(limit, ph.MBps("md5", size, b.N)), "put/bound")
	b.ReportMetric(ph.MBps("put-md5-given", size, b.N)/limit, "put-md5-given/limit")
	b.ReportMetric(ph.CPUPerObject("put", b.N), "put-cpu-ms/obj")
	b.ReportMetric(ph.CPUPerObject("raw-buf", b.N), "raw-buf-cpu-ms/obj")
}
