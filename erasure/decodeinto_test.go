package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// decodeInto decodes [off, off+length) with DecodeInto into a buffer full of garbage, so that
// a byte DecodeInto fails to write shows.
func decodeInto(c *Codec, readers []io.ReaderAt, off, length, size int64) ([]byte, []error, error) {
	dst := bytes.Repeat([]byte{0xa5}, int(length))
	n, errs, err := c.DecodeInto(context.Background(), dst, readers, off, size)
	if err == nil && n != length {
		return dst, errs, fmt.Errorf("DecodeInto returned n = %d for %d bytes", n, length)
	}
	return dst, errs, err
}

// blockReader is a BlockReaderAt over a shard file that counts its ReadBlockAt calls and
// fails them with err from offset from on.
type blockReader struct {
	r     *bytes.Reader
	calls atomic.Int64
	from  int64
	err   error
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) { return b.r.ReadAt(p, off) }

func (b *blockReader) ReadBlockAt(sum, data []byte, off int64) (int, error) {
	b.calls.Add(1)
	if b.err != nil && off+int64(len(sum)+len(data)) > b.from {
		return 0, b.err
	}
	n, err := b.r.ReadAt(sum, off)
	if err != nil {
		return n, err
	}
	m, err := b.r.ReadAt(data, off+int64(len(sum)))
	return n + m, err
}

var _ BlockReaderAt = (*blockReader)(nil)

// TestDecodeIntoMatchesData decodes whole objects and random ranges (stripe and block
// edges included) with DecodeInto, on intact shards and with up to m damaged ones of every
// kind: the bytes are the object's and the shard errors blame the damaged shards only.
func TestDecodeIntoMatchesData(t *testing.T) {
	const bs = 4096
	rng := rand.New(rand.NewPCG(11, 12))
	for _, g := range geometries {
		c := mustNew(t, g.k, g.m, bs, DefaultBitrot)
		size := int64(5*bs + 777)
		data := randomBytes(t, int(size), 13)
		files := encodeObject(t, c, data, size)
		b := int64(c.BlockSize(size, 0))
		edges := []int64{0, 1, b - 1, b, b + 1, bs - 1, bs, bs + 1, 2*bs - b, 2 * bs, size - 1, size}
		for rep := range 12 {
			bad := rng.Perm(g.k + g.m)[:rng.IntN(g.m+1)]
			if rep == 0 {
				bad = nil
			}
			readers, what := damageSet(c, files, bad, size, -1, rng)
			name := fmt.Sprintf("%d+%d/%v", g.k, g.m, what)
			// A reader that returns at most one framed block less a byte per call gives a
			// block read in place all its bytes (checksum and data are two calls): it need
			// not be reported then, but its bytes are still checked.
			fullRead := true
			for _, d := range what {
				fullRead = fullRead && d.kind != shortReads
			}
			got, errs, err := decodeInto(c, readers, 0, size, size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: full DecodeInto: err %v, data equal %v", name, err, bytes.Equal(got, data))
			}
			checkShardErrs(t, c, errs, what, size, fullRead)
			for range 20 {
				off := edges[rng.IntN(len(edges))]
				end := edges[rng.IntN(len(edges))]
				if rng.IntN(2) == 0 {
					off, end = rng.Int64N(size), rng.Int64N(size+1)
				}
				if end < off {
					off, end = end, off
				}
				got, errs, err := decodeInto(c, readers, off, end-off, size)
				if err != nil || !bytes.Equal(got, data[off:end]) {
					t.Fatalf("%s: DecodeInto [%d,%d): err %v, data equal %v", name, off, end, err, bytes.Equal(got, data[off:end]))
				}
				checkShardErrs(t, c, errs, what, size, false)
			}
		}
	}
}

// TestDecodeIntoCorruptBlockInPlace: a data block read straight into the caller's buffer
// that fails its checksum is rebuilt from the other shards and its bytes in the buffer
// replaced, in every stripe, through a BlockReaderAt.
func TestDecodeIntoCorruptBlockInPlace(t *testing.T) {
	const bs = 1 << 16
	c := mustNew(t, 2, 2, bs, DefaultBitrot)
	size := int64(4*bs + 100)
	data := randomBytes(t, int(size), 14)
	files := cloneFiles(encodeObject(t, c, data, size))
	for s := range c.Stripes(size) {
		files[1][c.BlockOffset(s)+int64(c.hashSize)+7] ^= 0xff
	}
	readers := make([]io.ReaderAt, len(files))
	brs := make([]*blockReader, len(files))
	for i, f := range files {
		brs[i] = &blockReader{r: bytes.NewReader(f)}
		readers[i] = brs[i]
	}
	got, errs, err := decodeInto(c, readers, 0, size, size)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("DecodeInto: err %v, data equal %v", err, bytes.Equal(got, data))
	}
	if !errors.Is(errs[1], ErrShardCorrupt) {
		t.Errorf("shard 1: error %v, want ErrShardCorrupt", errs[1])
	}
	if brs[0].calls.Load() == 0 {
		t.Errorf("shard 0 was never read in place")
	}
}

// TestDecodeIntoAbandonsBuffer: a BlockReaderAt whose in-place read fails with
// ErrBufferAbandoned may write into the buffer later, so DecodeInto stops with that error
// rather than rebuilding the block there; other read errors, of a BlockReaderAt or a plain
// io.ReaderAt, make no such threat, and the block is rebuilt.
func TestDecodeIntoAbandonsBuffer(t *testing.T) {
	const bs = 1 << 16
	c := mustNew(t, 2, 2, bs, DefaultBitrot)
	size := int64(3 * bs)
	data := randomBytes(t, int(size), 15)
	files := encodeObject(t, c, data, size)
	readers := readersFor(files)
	abandoned := fmt.Errorf("%w: %w", ErrBufferAbandoned, errInjected)
	readers[0] = &blockReader{r: bytes.NewReader(files[0]), from: c.BlockOffset(1), err: abandoned}
	if _, _, err := decodeInto(c, readers, 0, size, size); !errors.Is(err, ErrBufferAbandoned) {
		t.Fatalf("abandoned in-place read: DecodeInto returned %v, want ErrBufferAbandoned", err)
	}
	for name, r := range map[string]io.ReaderAt{
		"BlockReaderAt": &blockReader{r: bytes.NewReader(files[0]), from: c.BlockOffset(1), err: errInjected},
		"ReaderAt":      brokenReaderAt{r: bytes.NewReader(files[0]), from: c.BlockOffset(1), err: errInjected},
	} {
		readers[0] = r
		got, errs, err := decodeInto(c, readers, 0, size, size)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s read error: err %v, data equal %v", name, err, bytes.Equal(got, data))
		}
		if !errors.Is(errs[0], errInjected) {
			t.Errorf("%s: shard 0: error %v, want the injected one", name, errs[0])
		}
	}
}
