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

// TestHeal damages up to m shards, heals them, and checks the rebuilt files are identical to
// the originals.
func TestHeal(t *testing.T) {
	const bs = 4096
	rng := rand.New(rand.NewPCG(22, 23))
	for _, g := range geometries {
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		for _, size := range []int64{0, 1, bs, 5*bs + 77} {
			data := randomBytes(t, int(size), 24)
			files := encodeObject(t, c, data, size)
			for rep := range 4 {
				bad := rng.Perm(g.k + g.m)[:rng.IntN(g.m+1)]
				var readers []io.ReaderAt
				var what map[int]damaged
				if size == 0 {
					readers, what = readersFor(files), map[int]damaged{}
					for _, i := range bad {
						readers[i] = nil
						what[i] = damaged{kind: dropShard}
					}
				} else {
					readers, what = damageSet(c, files, bad, size, -1, rng)
				}
				// Rebuild the damaged shards and, once, one intact shard too.
				targets := append([]int(nil), bad...)
				if rep == 0 {
					for i := range files {
						if _, ok := what[i]; !ok {
							targets = append(targets, i)
							break
						}
					}
				}
				t.Run(fmt.Sprintf("%d+%d/size%d/%v/targets%v", g.k, g.m, size, what, targets), func(t *testing.T) {
					outs := make([]*bytes.Buffer, len(files))
					writers := make([]io.Writer, len(files))
					for _, i := range targets {
						outs[i] = new(bytes.Buffer)
						writers[i] = outs[i]
					}
					errs, err := c.Heal(context.Background(), readers, writers, size)
					if err != nil {
						t.Fatalf("Heal: %v", err)
					}
					for _, i := range targets {
						if errs[i] != nil {
							t.Errorf("target %d: %v", i, errs[i])
						}
						if !bytes.Equal(outs[i].Bytes(), files[i]) {
							t.Errorf("shard %d: healed file differs from the original", i)
						}
					}
					for i, e := range errs {
						if _, bad := what[i]; e != nil && !bad {
							t.Errorf("intact shard %d blamed: %v", i, e)
						}
					}
				})
			}
		}
	}
}

func TestHealBeyondParity(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	size := int64(3*bs + 5)
	files := encodeObject(t, c, randomBytes(t, int(size), 25), size)
	readers := readersFor(files)
	readers[0], readers[1] = nil, nil
	corrupt := cloneFiles(files)
	corrupt[5][c.BlockOffset(2)+40] ^= 1
	readers[5] = bytes.NewReader(corrupt[5])
	writers := make([]io.Writer, 6)
	writers[0] = io.Discard
	if _, err := c.Heal(context.Background(), readers, writers, size); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("err = %v, want ErrReadQuorum", err)
	}
}

func TestHealWriterFailure(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	size := int64(6*bs + 5)
	files := encodeObject(t, c, randomBytes(t, int(size), 26), size)
	readers := readersFor(files)
	readers[1], readers[4] = nil, nil
	var good bytes.Buffer
	writers := make([]io.Writer, 6)
	writers[1] = &failingWriter{limit: 3000, err: errInjected}
	writers[4] = &good
	errs, err := c.Heal(context.Background(), readers, writers, size)
	if !errors.Is(err, errInjected) || !errors.Is(errs[1], errInjected) || errs[4] != nil {
		t.Fatalf("err %v, shard errors %v; want errInjected for shard 1 only", err, errs)
	}
	if !bytes.Equal(good.Bytes(), files[4]) {
		t.Fatal("the working writer did not get the whole shard file")
	}
}

func TestVerifyShard(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	size := int64(5*bs + 3)
	files := encodeObject(t, c, randomBytes(t, int(size), 27), size)
	f := files[2]
	flip := func(off int64) []byte {
		g := bytes.Clone(f)
		g[off] ^= 0x80
		return g
	}
	tests := []struct {
		name string
		r    io.ReaderAt
		want error
	}{
		{"intact", bytes.NewReader(f), nil},
		{"data bit flip", bytes.NewReader(flip(c.BlockOffset(3) + int64(c.hashSize) + 7)), ErrShardCorrupt},
		{"checksum bit flip", bytes.NewReader(flip(c.BlockOffset(5))), ErrShardCorrupt},
		{"last byte flip", bytes.NewReader(flip(int64(len(f) - 1))), ErrShardCorrupt},
		{"truncated by one", bytes.NewReader(f[:len(f)-1]), ErrShardTruncated},
		{"truncated to a block", bytes.NewReader(f[:c.BlockOffset(2)]), ErrShardTruncated},
		{"empty", bytes.NewReader(nil), ErrShardTruncated},
		{"one byte too long", bytes.NewReader(append(bytes.Clone(f), 0)), ErrShardCorrupt},
		{"read error", brokenReaderAt{r: bytes.NewReader(f), from: c.BlockOffset(4), err: errInjected}, errInjected},
		{"nil", nil, ErrShardMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.VerifyShard(context.Background(), tc.r, size)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("VerifyShard = %v, want %v", err, tc.want)
			}
		})
	}
	if err := c.VerifyShard(context.Background(), bytes.NewReader(nil), 0); err != nil {
		t.Errorf("empty object: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.VerifyShard(ctx, bytes.NewReader(f), size); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
