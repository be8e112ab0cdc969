package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"
)

// BenchmarkRandomRead4KiB reads the same 4 KiB pieces of one 64 MiB object (4 drives, 2+2)
// through the mount (pread on a descriptor opened with POSIX_FADV_RANDOM, the kernel's
// readahead off, the file's page cache dropped first) and through S3 (aws-sdk-go-v2 GETs
// with a Range header), one request at a time, alternating, 3 rounds of 2,000 reads each:
// reads per second and latency percentiles of each face, from one server with its mount
// (client and server in one process). Run as root with
//
//	go test -run '^$' -bench RandomRead4KiB -benchtime 1x ./cmd/flashstor/
func BenchmarkRandomRead4KiB(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("mounting needs root here")
	}
	const size, piece, reads, rounds = 64 << 20, 4 << 10, 2000, 3
	mnt := b.TempDir()
	srv := startServerAs(b, "testadmin", "test-secret-123", b.TempDir(), "--mount", mnt)
	client := s3.New(s3.Options{BaseEndpoint: aws.String(srv.endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("rand")}); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rand"), Key: aws.String("obj"), Body: bytes.NewReader(body)}); err != nil {
		b.Fatal(err)
	}
	offsets := make([]int64, reads)
	for i := range offsets {
		offsets[i] = rng.Int64N(size/piece) * piece
	}
	path := filepath.Join(mnt, "rand", "obj")
	buf := make([]byte, piece)

	viaMount := func() []time.Duration {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, reads)
		for _, off := range offsets {
			start := time.Now()
			if n, err := f.ReadAt(buf, off); err != nil || n != piece {
				b.Fatalf("pread at %d: %d, %v", off, n, err)
			}
			lat = append(lat, time.Since(start))
			if !bytes.Equal(buf, body[off:off+piece]) {
				b.Fatalf("pread at %d: other bytes than the object's", off)
			}
		}
		return lat
	}
	viaS3 := func() []time.Duration {
		lat := make([]time.Duration, 0, reads)
		for _, off := range offsets {
			start := time.Now()
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rand"), Key: aws.String("obj"),
				Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+piece-1))})
			if err != nil {
				b.Fatal(err)
			}
			n, err := out.Body.Read(buf)
			for n < piece && err == nil {
				var m int
				m, err = out.Body.Read(buf[n:])
				n += m
			}
			out.Body.Close()
			lat = append(lat, time.Since(start))
			if n != piece || !bytes.Equal(buf, body[off:off+piece]) {
				b.Fatalf("GET at %d: %d bytes (%v), or other bytes than the object's", off, n, err)
			}
		}
		return lat
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var mountRates, s3Rates []float64
		for r := range rounds {
			for _, face := range []struct {
				name  string
				read  func() []time.Duration
				rates *[]float64
			}{{"mount", viaMount, &mountRates}, {"s3", viaS3, &s3Rates}} {
				start := time.Now()
				lat := face.read()
				rate := float64(reads) / time.Since(start).Seconds()
				*face.rates = append(*face.rates, rate)
				slices.Sort(lat)
				b.Logf("round %d %-5s: %6.0f reads/s, p50 %v, p99 %v", r, face.name, rate,
					lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
			}
		}
		slices.Sort(mountRates)
		slices.Sort(s3Rates)
		b.ReportMetric(mountRates[rounds/2], "mount-reads/s")
		b.ReportMetric(s3Rates[rounds/2], "s3-reads/s")
		b.ReportMetric(mountRates[rounds/2]/s3Rates[rounds/2], "mount/s3")
	}
}
