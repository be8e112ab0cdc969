package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/diskbench"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend"
)

// BenchmarkPutPathS3 measures large PUTs end to end beside their limits in the same run
// (issue 11). Every iteration is one round of four phases, each with `conc` clients writing
// one object each at once, so that the phases alternate and share the machine's noise:
//
//   - raw-buf and raw-direct: the object's shard bytes (what a 2+2 set writes per drive)
//     written by one writer per drive into 4 directories on the drives' file system,
//     buffered or with O_DIRECT, then fdatasync (internal/diskbench): the limit;
//   - layer: PutObject on the server's object layer, called in process;
//   - s3: PutObject through aws-sdk-go-v2 to the epoll server on loopback, the payload
//     unsigned (x-amz-content-sha256: UNSIGNED-PAYLOAD) and without a checksum: the
//     server's own cost of a PUT. Swapping the SDK's payload-hash middleware alone is not
//     enough: with checksums "when supported" (the SDK's default) its checksum middleware
//     computes the payload's SHA-256 too over plain HTTP, and the request is signed with it;
//   - s3-signed: the same with the SDK's defaults over plain HTTP: the payload's SHA-256 in
//     the signature and a CRC32 header, both computed by the client and checked by the
//     server.
//
// It reports each phase's object MB/s, and s3/limit, s3-signed/limit and layer/limit, the
// limit being the faster raw phase. Run with
//
//	go test -run '^$' -bench PutPathS3 -benchtime 5x ./s3frontend/
func BenchmarkPutPathS3(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, conc := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%dMiB/c%d", size>>20, conc), func(b *testing.B) {
				benchPutPathS3(b, size, conc)
			})
		}
	}
}

func benchPutPathS3(b *testing.B, size, conc int) {
	e := start(b, s3frontend.TransportEpoll)
	c := e.sdk(func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	signed := e.sdk()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	content := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	codec, err := erasure.New(2, 2, erasure.DefaultBlockSize, erasure.DefaultBitrot)
	if err != nil {
		b.Fatal(err)
	}
	shards := diskbench.NewShards(content, int(codec.ShardFileSize(int64(size))))
	root := b.TempDir()
	dirs := make([]string, 4)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprint("d", i+1))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			b.Fatal(err)
		}
	}
	ph := diskbench.NewPhases(conc)
	run := func(name string, f func(client int) error) {
		if err := ph.Run(name, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := ph.RunRaw(shards, dirs); err != nil {
			b.Fatal(err)
		}
		run("layer", func(cl int) error {
			_, err := e.layer.PutObject(ctx, "bench", fmt.Sprint("layer", cl), bytes.NewReader(content), int64(size), objstore.PutOptions{})
			return err
		})
		for name, client := range map[string]*s3.Client{"s3": c, "s3-signed": signed} {
			run(name, func(cl int) error {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(name, cl)),
					Body: bytes.NewReader(content), ContentLength: aws.Int64(int64(size))})
				return err
			})
		}
	}
	b.StopTimer()
	limit := ph.Limit(size, b.N)
	for _, name := range []string{"raw-buf", "raw-direct", "layer", "s3", "s3-signed"} {
		b.ReportMetric(ph.MBps(name, size, b.N), name+"-MB/s")
	}
	for _, name := range []string{"layer", "s3", "s3-signed"} {
		b.ReportMetric(ph.MBps(name, size, b.N)/limit, name+"/limit")
		b.ReportMetric(ph.CPUPerObject(name, b.N), name+"-cpu-ms/obj")
	}
}
