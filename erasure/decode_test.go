package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

var errInjected = errors.New("injected drive failure")

// damage is one way a shard can go bad.
type damage int

const (
	dropShard    damage = iota // the drive is offline: nil reader
	corruptData                // a byte of some block's data flipped
	corruptSum                 // a byte of some block's checksum flipped
	truncateFile               // the file cut short somewhere
	readFails                  // ReadAt fails from some offset on
	shortReads                 // ReadAt returns fewer bytes than asked, without error
	numDamages
)

func (d damage) String() string {
	return [...]string{"drop", "corrupt-data", "corrupt-sum", "truncate", "read-error", "short-read"}[d]
}

// sentinel is the error Decode must report for a shard with this damage.
func (d damage) sentinel() error {
	return [...]error{ErrShardMissing, ErrShardCorrupt, ErrShardCorrupt, ErrShardTruncated, errInjected, ErrShardTruncated}[d]
}

// damaged describes what was done to one shard: how and from which stripe on.
type damaged struct {
	kind   damage
	stripe int64 // the (first) stripe whose block is affected
}

// applyDamage damages shard i of files (in place) and returns its reader.
func applyDamage(c *Codec, files [][]byte, i int, kind damage, stripe, size int64, rng *rand.Rand) io.ReaderAt {
	off := c.BlockOffset(stripe)
	hs := int64(c.hashSize)
	b := int64(c.BlockSize(size, stripe))
	switch kind {
	case dropShard:
		return nil
	case corruptData:
		files[i][off+hs+rng.Int64N(b)] ^= byte(1 + rng.IntN(255))
	case corruptSum:
		files[i][off+rng.Int64N(hs)] ^= byte(1 + rng.IntN(255))
	case truncateFile:
		files[i] = files[i][:off+rng.Int64N(hs+b)]
	case readFails:
		return brokenReaderAt{r: bytes.NewReader(files[i]), from: off + rng.Int64N(hs+b), err: errInjected}
	case shortReads:
		return shortReaderAt{r: bytes.NewReader(files[i]), max: int(hs + b - 1)}
	}
	return bytes.NewReader(files[i])
}

// damageSet damages the shards in bad, each with a random kind at a random stripe (or all at
// sameStripe when it is >= 0), and returns the readers and what was done.
func damageSet(c *Codec, files [][]byte, bad []int, size, sameStripe int64, rng *rand.Rand) ([]io.ReaderAt, map[int]damaged) {
	files = cloneFiles(files)
	readers := readersFor(files)
	what := map[int]damaged{}
	for _, i := range bad {
		d := damaged{kind: damage(rng.IntN(int(numDamages))), stripe: sameStripe}
		if d.stripe < 0 {
			d.stripe = rng.Int64N(c.Stripes(size))
		}
		readers[i] = applyDamage(c, files, i, d.kind, d.stripe, size, rng)
		what[i] = d
	}
	return readers, what
}

// checkShardErrs checks that Decode blamed only damaged shards, with the right error, and
// blamed every damaged data shard that a full read must have read.
func checkShardErrs(t *testing.T, c *Codec, errs []error, what map[int]damaged, size int64, fullRead bool) {
	t.Helper()
	for i, err := range errs {
		d, bad := what[i]
		switch {
		case err != nil && !bad:
			t.Errorf("shard %d is intact but reported %v", i, err)
		case err != nil && !errors.Is(err, d.kind.sentinel()):
			t.Errorf("shard %d (%v): reported %v, want %v", i, d.kind, err, d.kind.sentinel())
		case err == nil && bad && d.kind == dropShard:
			t.Errorf("shard %d is offline but not reported", i)
		case err == nil && bad && fullRead && i < c.k && i*c.BlockSize(size, d.stripe) < blockLen(c, size, d.stripe):
			t.Errorf("shard %d (%v at stripe %d) was read by a full decode but not reported", i, d.kind, d.stripe)
		}
	}
}

// blockLen returns the object bytes in stripe s.
func blockLen(c *Codec, size, s int64) int {
	return int(min(c.blockSize, size-s*c.blockSize))
}

// subsets calls fn with every subset of {0..n-1} of up to max elements.
func subsets(n, max int, fn func([]int)) {
	for mask := 0; mask < 1<<n; mask++ {
		var set []int
		for i := range n {
			if mask&(1<<i) != 0 {
				set = append(set, i)
			}
		}
		if len(set) <= max {
			fn(set)
		}
	}
}

func TestDecodeSurvivesParityShardsOfDamage(t *testing.T) {
	const bs = 4096
	rng := rand.New(rand.NewPCG(7, 8))
	for _, g := range geometries {
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		size := int64(3*bs + 1234)
		data := randomBytes(t, int(size), 9)
		files := encodeObject(t, c, data, size)
		// Every subset of up to m bad shards for small geometries, random ones for large.
		var sets [][]int
		if g.k+g.m <= 8 {
			subsets(g.k+g.m, g.m, func(s []int) { sets = append(sets, s) })
		} else {
			for range 60 {
				sets = append(sets, rng.Perm(g.k + g.m)[:rng.IntN(g.m+1)])
			}
		}
		for _, bad := range sets {
			for rep := range 3 {
				readers, what := damageSet(c, files, bad, size, -1, rng)
				name := fmt.Sprintf("%d+%d/%v/%d", g.k, g.m, what, rep)
				got, errs, err := decodeRange(c, readers, 0, size, size)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s: full decode: err %v, data equal %v", name, err, bytes.Equal(got, data))
				}
				checkShardErrs(t, c, errs, what, size, true)
				for range 5 {
					off := rng.Int64N(size)
					length := rng.Int64N(size - off + 1)
					got, errs, err := decodeRange(c, readers, off, length, size)
					if err != nil || !bytes.Equal(got, data[off:off+length]) {
						t.Fatalf("%s: decode [%d,+%d): err %v, data equal %v", name, off, length, err, bytes.Equal(got, data[off:off+length]))
					}
					checkShardErrs(t, c, errs, what, size, false)
				}
			}
		}
	}
}

// TestDecodeBeyondParity damages m+1 or more shards in the same stripe: Decode must fail with
// ErrReadQuorum and never write a byte of that stripe that is not the object's.
func TestDecodeBeyondParity(t *testing.T) {
	const bs = 4096
	rng := rand.New(rand.NewPCG(10, 11))
	for _, g := range geometries {
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		size := int64(3*bs + 1234)
		data := randomBytes(t, int(size), 12)
		files := encodeObject(t, c, data, size)
		for rep := range 20 {
			nbad := g.m + 1 + rng.IntN(g.k)
			bad := rng.Perm(g.k + g.m)[:nbad]
			stripe := rng.Int64N(c.Stripes(size))
			readers, what := damageSet(c, files, bad, size, stripe, rng)
			// A read error or truncation from inside the block may spare the stripe's block
			// when it starts past it; force block-wide damage kinds for a certain failure.
			for _, i := range bad {
				if what[i].kind == readFails || what[i].kind == truncateFile {
					readers[i] = nil
					what[i] = damaged{kind: dropShard, stripe: stripe}
				}
			}
			name := fmt.Sprintf("%d+%d/rep%d/stripe%d/%v", g.k, g.m, rep, stripe, what)
			got, errs, err := decodeRange(c, readers, 0, size, size)
			if !errors.Is(err, ErrReadQuorum) {
				t.Fatalf("%s: err = %v, want ErrReadQuorum", name, err)
			}
			if !bytes.HasPrefix(data, got) || int64(len(got)) > stripe*bs {
				t.Fatalf("%s: wrote %d bytes that are not a prefix of the object before stripe %d", name, len(got), stripe)
			}
			checkShardErrs(t, c, errs, what, size, false)
		}
	}
}

// TestDecodeReadsOnlyWhatItNeeds counts shard reads: a small range reads one block of one
// shard, a full read of a healthy object reads only the data shards, and a missing data shard
// costs k blocks per stripe.
func TestDecodeReadsOnlyWhatItNeeds(t *testing.T) {
	const bs = 1 << 20
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	size := int64(8*bs + 5)
	data := randomBytes(t, int(size), 13)
	files := encodeObject(t, c, data, size)
	blockBytes := int64(c.hashSize + c.bfull)
	tests := []struct {
		name       string
		off, len   int64
		drop       int // shard to drop, or -1
		wantCalls  int64
		wantBytes  int64
		parityRead bool
	}{
		{"4KiB-in-one-block", 3*bs + 300000, 4096, -1, 1, blockBytes, false},
		{"4KiB-across-two-blocks", 3*bs + int64(c.bfull) - 100, 4096, -1, 2, 2 * blockBytes, false},
		{"4KiB-dropped-shard", 3*bs + 300000, 4096, 1, 4, 4 * blockBytes, true},
		{"full-stripe", 2 * bs, bs, -1, 4, 4 * blockBytes, false},
		{"whole-object", 0, 8 * bs, -1, 32, 32 * blockBytes, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counters := make([]*countingReaderAt, len(files))
			readers := make([]io.ReaderAt, len(files))
			for i, f := range files {
				counters[i] = &countingReaderAt{r: bytes.NewReader(f)}
				readers[i] = counters[i]
			}
			if tc.drop >= 0 {
				readers[tc.drop] = nil
			}
			got, _, err := decodeRange(c, readers, tc.off, tc.len, size)
			if err != nil || !bytes.Equal(got, data[tc.off:tc.off+tc.len]) {
				t.Fatalf("err %v, data equal %v", err, bytes.Equal(got, data[tc.off:tc.off+tc.len]))
			}
			var calls, n int64
			for _, ctr := range counters {
				calls += ctr.calls.Load()
				n += ctr.bytes.Load()
			}
			if calls != tc.wantCalls || n != tc.wantBytes {
				t.Errorf("read %d blocks, %d bytes; want %d blocks, %d bytes", calls, n, tc.wantCalls, tc.wantBytes)
			}
			if parity := counters[4].calls.Load() + counters[5].calls.Load(); (parity > 0) != tc.parityRead {
				t.Errorf("parity shards read %d times, want reads: %v", parity, tc.parityRead)
			}
		})
	}
}

func TestDecodeRejectsBadArguments(t *testing.T) {
	c := mustNew(t, 4, 2, 4096, DefaultBitrot)
	files := encodeObject(t, c, randomBytes(t, 10000, 14), 10000)
	readers := readersFor(files)
	tests := []struct {
		name                string
		readers             []io.ReaderAt
		off, length, totalN int64
	}{
		{"negative offset", readers, -1, 1, 10000},
		{"negative length", readers, 0, -1, 10000},
		{"offset past end", readers, 10001, 0, 10000},
		{"range past end", readers, 9000, 1001, 10000},
		{"overflowing range", readers, 9000, 1<<63 - 1, 10000},
		{"negative size", readers, 0, 0, -1},
		{"too few readers", readers[:5], 0, 1, 10000},
		{"too many readers", append(readersFor(files), nil), 0, 1, 10000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, _, err := c.Decode(context.Background(), io.Discard, tc.readers, tc.off, tc.length, tc.totalN)
			if !errors.Is(err, ErrInvalidArgument) || n != 0 {
				t.Fatalf("n %d, err %v; want 0, ErrInvalidArgument", n, err)
			}
		})
	}
	// An empty range at the end is valid and reads nothing.
	if n, _, err := c.Decode(context.Background(), io.Discard, readers, 10000, 0, 10000); err != nil || n != 0 {
		t.Fatalf("empty range at end: n %d, err %v", n, err)
	}
}

// TestDecodeWriterError checks that a failing destination stops Decode with its error.
func TestDecodeWriterError(t *testing.T) {
	c := mustNew(t, 4, 2, 4096, DefaultBitrot)
	size := int64(10 * 4096)
	data := randomBytes(t, int(size), 15)
	readers := readersFor(encodeObject(t, c, data, size))
	w := &failingWriter{limit: 5000, err: errInjected}
	n, _, err := c.Decode(context.Background(), w, readers, 0, size, size)
	if !errors.Is(err, errInjected) || n != 5000 {
		t.Fatalf("n %d, err %v; want 5000, errInjected", n, err)
	}
}

func TestDecodeCancelled(t *testing.T) {
	c := mustNew(t, 4, 2, 4096, DefaultBitrot)
	size := int64(50 * 4096)
	readers := readersFor(encodeObject(t, c, randomBytes(t, int(size), 16), size))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Decode(ctx, io.Discard, readers, 0, size, size); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled: err %v", err)
	}
	// Cancel from the destination after the first stripe: Decode stops within a stripe or two.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	w := &cancelWriter{cancel: cancel, after: 4096}
	n, _, err := c.Decode(ctx, w, readers, 0, size, size)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-way: err %v", err)
	}
	if n > 3*4096 {
		t.Fatalf("cancelled after 4096 bytes but %d were written", n)
	}
}

// cancelWriter cancels its context once it has accepted after bytes.
type cancelWriter struct {
	cancel func()
	after  int
	n      int
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n >= w.after {
		w.cancel()
	}
	return len(p), nil
}

// TestDecodeSpreadDamage corrupts every shard, each in a different stripe, so that no stripe
// has more than one bad block: Decode must get every stripe right, which means going back to
// shards that failed in earlier stripes, and must blame every shard.
func TestDecodeSpreadDamage(t *testing.T) {
	const bs = 4096
	for _, g := range geometries {
		if g.m == 0 {
			continue
		}
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		n := g.k + g.m
		size := int64(n*bs + 99)
		data := randomBytes(t, int(size), 28)
		files := cloneFiles(encodeObject(t, c, data, size))
		for i := range files {
			files[i][c.BlockOffset(int64(i))+int64(c.hashSize)+int64(i)] ^= 0x55
		}
		got, errs, err := decodeRange(c, readersFor(files), 0, size, size)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d+%d: err %v, equal %v", g.k, g.m, err, bytes.Equal(got, data))
		}
		for i, e := range errs {
			// A full read reads parity shards only where a data block failed, so a parity
			// shard's damage goes unseen unless a data block of the same stripe failed.
			if i < g.k && !errors.Is(e, ErrShardCorrupt) {
				t.Errorf("%d+%d: data shard %d: %v, want ErrShardCorrupt", g.k, g.m, i, e)
			}
		}
	}
}
