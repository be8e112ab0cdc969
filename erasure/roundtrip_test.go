package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// geometries is the matrix of (k, m) every round-trip test covers.
var geometries = []struct{ k, m int }{
	{1, 0}, {1, 1}, {2, 2}, {4, 2}, {6, 2}, {4, 4}, {8, 4}, {12, 4}, {15, 1}, {16, 0},
}

// testSizes returns the object sizes worth testing for a geometry: the empty object, one
// byte, fewer bytes than shards, one block minus, at and plus one byte, and several stripes
// plus a partial one.
func testSizes(k int, blockSize int64) []int64 {
	sizes := []int64{0, 1, int64(k) - 1, int64(k), int64(k) + 1, blockSize - 1, blockSize, blockSize + 1, 3*blockSize + blockSize/3 + 1}
	out := sizes[:0]
	seen := map[int64]bool{}
	for _, s := range sizes {
		if s >= 0 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// checkRoundTrip encodes an object of size bytes, compares the shard files with the reference
// format, and decodes the whole object and random ranges from it.
func checkRoundTrip(t *testing.T, c *Codec, size int64, rng *rand.Rand) [][]byte {
	t.Helper()
	data := randomBytes(t, int(size), uint64(size)+uint64(c.k*100+c.m))
	files := encodeObject(t, c, data, size)
	want := referenceShards(t, c.k, c.m, int(c.blockSize), c.Bitrot(), data)
	for i := range files {
		if int64(len(files[i])) != c.ShardFileSize(size) {
			t.Fatalf("shard %d: %d bytes, ShardFileSize says %d", i, len(files[i]), c.ShardFileSize(size))
		}
		if !bytes.Equal(files[i], want[i]) {
			t.Fatalf("shard %d differs from the documented format", i)
		}
	}
	// Unknown size must produce the same shard files.
	unknown := encodeObject(t, c, data, -1)
	for i := range files {
		if !bytes.Equal(files[i], unknown[i]) {
			t.Fatalf("shard %d: encoding with unknown size differs from known size", i)
		}
	}
	readers := readersFor(files)
	got, errs, err := decodeRange(c, readers, 0, size, size)
	if err != nil {
		t.Fatalf("Decode all: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Decode all: data differs")
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("Decode all: shard %d error %v on intact shards", i, e)
		}
	}
	for range 20 {
		if size == 0 {
			break
		}
		off := rng.Int64N(size)
		length := rng.Int64N(size - off + 1)
		got, _, err := decodeRange(c, readers, off, length, size)
		if err != nil {
			t.Fatalf("Decode [%d, +%d): %v", off, length, err)
		}
		if !bytes.Equal(got, data[off:off+length]) {
			t.Fatalf("Decode [%d, +%d): data differs", off, length)
		}
	}
	return files
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range geometries {
		for _, bs := range []int64{4096, 1000} {
			c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
			for _, size := range testSizes(g.k, bs) {
				t.Run(fmt.Sprintf("%d+%d/B=%d/size=%d", g.k, g.m, bs, size), func(t *testing.T) {
					checkRoundTrip(t, c, size, rng)
				})
			}
		}
	}
}

// TestRoundTripDefaultBlock runs the sizes around the default block size once per geometry.
func TestRoundTripDefaultBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("large objects")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range geometries {
		c := mustNew(t, g.k, g.m, DefaultBlockSize, DefaultBitrot)
		for _, size := range []int64{DefaultBlockSize - 1, DefaultBlockSize + 1, 2*DefaultBlockSize + 12345} {
			t.Run(fmt.Sprintf("%d+%d/size=%d", g.k, g.m, size), func(t *testing.T) {
				checkRoundTrip(t, c, size, rng)
			})
		}
	}
}

func TestRoundTripAlgorithms(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, alg := range []BitrotAlgorithm{BitrotHighwayHash256, BitrotXXH3, BitrotCRC32C} {
		c := mustNew(t, 4, 2, 4096, alg)
		for _, size := range []int64{0, 3, 4096, 10000} {
			t.Run(fmt.Sprintf("%v/size=%d", alg, size), func(t *testing.T) {
				checkRoundTrip(t, c, size, rng)
			})
		}
	}
}

// TestGenericMatchesSIMD encodes with reedsolomon's SIMD code and with every SIMD option off:
// the shard files must be identical and each decodes with the other codec, also through
// reconstruction.
func TestGenericMatchesSIMD(t *testing.T) {
	generic := []reedsolomon.Option{
		reedsolomon.WithAVX512(false), reedsolomon.WithGFNI(false), reedsolomon.WithAVXGFNI(false),
		reedsolomon.WithAVX2(false), reedsolomon.WithSSSE3(false), reedsolomon.WithSSE2(false),
		reedsolomon.WithNEON(false), reedsolomon.WithSVE(false),
	}
	for _, g := range geometries {
		const bs = 64 << 10
		simd := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		gen := mustNew(t, g.k, g.m, bs, DefaultBitrot, generic...)
		size := int64(3*bs + 777)
		t.Run(fmt.Sprintf("%d+%d", g.k, g.m), func(t *testing.T) {
			data := randomBytes(t, int(size), 42)
			a := encodeObject(t, simd, data, size)
			b := encodeObject(t, gen, data, size)
			for i := range a {
				if !bytes.Equal(a[i], b[i]) {
					t.Fatalf("shard %d: generic and SIMD encodings differ", i)
				}
			}
			// Drop the first min(m, k) data shards so both decoders must reconstruct.
			damaged := cloneFiles(a)
			for i := 0; i < g.m && i < g.k; i++ {
				damaged[i] = nil
			}
			for name, c := range map[string]*Codec{"simd": simd, "generic": gen} {
				got, _, err := decodeRange(c, readersFor(damaged), 0, size, size)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s decode: err %v, equal %v", name, err, bytes.Equal(got, data))
				}
			}
		})
	}
}

// TestDepthOne runs the one-stripe-at-a-time paths (used by BenchmarkOverlap) through a
// round trip with damaged shards and a heal.
func TestDepthOne(t *testing.T) {
	const bs = 1000
	rng := rand.New(rand.NewPCG(29, 30))
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	c.depth = 1
	size := int64(7*bs + 3)
	files := checkRoundTrip(t, c, size, rng)
	data := randomBytes(t, int(size), uint64(size)+uint64(c.k*100+c.m))
	readers, _ := damageSet(c, files, []int{1, 4}, size, -1, rng)
	got, _, err := decodeRange(c, readers, 0, size, size)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("damaged decode: err %v, equal %v", err, bytes.Equal(got, data))
	}
	var healed bytes.Buffer
	writers := make([]io.Writer, c.TotalShards())
	writers[1] = &healed
	if _, err := c.Heal(context.Background(), readers, writers, size); err != nil || !bytes.Equal(healed.Bytes(), files[1]) {
		t.Fatalf("heal: err %v, identical %v", err, bytes.Equal(healed.Bytes(), files[1]))
	}
}

// TestEncodeClearsStaleBuffers encodes objects of different sizes one after another on one
// codec (so on reused stripe buffers), each with a declared and an unknown size, and checks
// every result against the reference: padding must be zero whatever a buffer held before.
func TestEncodeClearsStaleBuffers(t *testing.T) {
	for _, g := range []struct{ k, m int }{{6, 2}, {3, 1}, {4, 2}} {
		const bs = 1000
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		c.depth = 1 // one stripe buffer per call: every call reuses the previous one's
		for _, size := range []int64{2000, 999, 1000, 5, 1000, 998, 2999, 1, 997} {
			data := randomBytes(t, int(size), uint64(size)^0xff)
			want := referenceShards(t, g.k, g.m, bs, c.Bitrot(), data)
			for _, declared := range []int64{size, -1} {
				got := encodeObject(t, c, data, declared)
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("%d+%d: size %d (declared %d): shard %d differs from the reference", g.k, g.m, size, declared, i)
					}
				}
			}
		}
	}
}
