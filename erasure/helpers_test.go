package erasure

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
	"github.com/zeebo/xxh3"
)

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(tb testing.TB, n int, seed uint64) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func mustNew(tb testing.TB, k, m int, blockSize int64, alg BitrotAlgorithm, opts ...reedsolomon.Option) *Codec {
	tb.Helper()
	c, err := newCodec(k, m, blockSize, alg, opts...)
	if err != nil {
		tb.Fatalf("New(%d, %d, %d, %v): %v", k, m, blockSize, alg, err)
	}
	return c
}

// encodeObject encodes data (declaring size, which may be -1) into in-memory shard files.
func encodeObject(tb testing.TB, c *Codec, data []byte, size int64) [][]byte {
	tb.Helper()
	bufs := make([]*bytes.Buffer, c.TotalShards())
	writers := make([]io.Writer, c.TotalShards())
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		writers[i] = bufs[i]
	}
	n, errs, err := c.Encode(context.Background(), bytes.NewReader(data), size, writers, c.TotalShards())
	if err != nil {
		tb.Fatalf("Encode(%d bytes, size %d): %v (shard errors %v)", len(data), size, err, errs)
	}
	if n != int64(len(data)) {
		tb.Fatalf("Encode returned n = %d, want %d", n, len(data))
	}
	for i, e := range errs {
		if e != nil {
			tb.Fatalf("Encode: shard %d error %v", i, e)
		}
	}
	files := make([][]byte, len(bufs))
	for i, b := range bufs {
		files[i] = append([]byte{}, b.Bytes()...) // non-nil even when empty: nil means a missing drive
	}
	return files
}

// readersFor returns a ReaderAt per shard file; a nil file gives a nil reader (a missing drive).
func readersFor(files [][]byte) []io.ReaderAt {
	rs := make([]io.ReaderAt, len(files))
	for i, f := range files {
		if f != nil {
			rs[i] = bytes.NewReader(f)
		}
	}
	return rs
}

// decodeRange decodes [off, off+length) and returns what Decode wrote.
func decodeRange(c *Codec, readers []io.ReaderAt, off, length, size int64) ([]byte, []error, error) {
	var out bytes.Buffer
	n, errs, err := c.Decode(context.Background(), &out, readers, off, length, size)
	if n != int64(out.Len()) {
		return out.Bytes(), errs, errors.New("Decode's n does not match the bytes it wrote")
	}
	return out.Bytes(), errs, err
}

// cloneFiles deep-copies shard files so a test can damage them.
func cloneFiles(files [][]byte) [][]byte {
	out := make([][]byte, len(files))
	for i, f := range files {
		if f != nil {
			out[i] = bytes.Clone(f)
		}
	}
	return out
}

// referenceShards builds the shard files of data straight from the format documented in the
// package comment, with reedsolomon and the checksum libraries used directly: the codec's
// output must equal it byte for byte.
func referenceShards(tb testing.TB, k, m int, blockSize int, alg BitrotAlgorithm, data []byte) [][]byte {
	tb.Helper()
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		tb.Fatal(err)
	}
	files := make([][]byte, k+m)
	for i := range files {
		files[i] = []byte{}
	}
	for start := 0; start < len(data); start += blockSize {
		stripe := data[start:min(start+blockSize, len(data))]
		b := (len(stripe) + k - 1) / k
		shards := make([][]byte, k+m)
		for i := range shards {
			shards[i] = make([]byte, b)
			if i < k {
				copy(shards[i], stripe[min(i*b, len(stripe)):min((i+1)*b, len(stripe))])
			}
		}
		if m > 0 {
			if err := enc.Encode(shards); err != nil {
				tb.Fatal(err)
			}
		}
		for i, s := range shards {
			files[i] = append(files[i], referenceChecksum(tb, alg, s)...)
			files[i] = append(files[i], s...)
		}
	}
	return files
}

func referenceChecksum(tb testing.TB, alg BitrotAlgorithm, p []byte) []byte {
	switch alg {
	case BitrotHighwayHash256:
		s := highwayhash.Sum(p, []byte(BitrotKey))
		return s[:]
	case BitrotXXH3:
		s := xxh3.Hash128(p).Bytes()
		return s[:]
	case BitrotCRC32C:
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
	}
	tb.Fatalf("no reference checksum for %v", alg)
	return nil
}

// failingWriter accepts limit bytes, then fails every Write with err.
type failingWriter struct {
	limit int
	err   error
	mu    sync.Mutex
	n     int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, w.err
	}
	w.n += len(p)
	return len(p), nil
}

// failingReader returns the bytes of r, then err; with withLast the error comes together with
// the last bytes instead of after them.
type failingReader struct {
	r        *bytes.Reader
	err      error
	withLast bool
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF || (f.withLast && f.r.Len() == 0) {
		return n, f.err
	}
	return n, err
}

// countingReaderAt counts the ReadAt calls and bytes read through it.
type countingReaderAt struct {
	r     io.ReaderAt
	calls atomic.Int64
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// brokenReaderAt fails every ReadAt at or after offset from with err.
type brokenReaderAt struct {
	r    io.ReaderAt
	from int64
	err  error
}

func (b brokenReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.from {
		return 0, b.err
	}
	return b.r.ReadAt(p, off)
}

// shortReaderAt returns at most max bytes per call and no error: a reader that breaks the
// io.ReaderAt contract, which the codec must survive as a truncated shard.
type shortReaderAt struct {
	r   io.ReaderAt
	max int
}

func (s shortReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, _ := s.r.ReadAt(p[:min(len(p), s.max)], off)
	return n, nil
}
