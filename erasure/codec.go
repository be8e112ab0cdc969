package erasure

import (
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Limits of the geometry New accepts.
const (
	// MaxShards is the largest k+m.
	MaxShards = 16
	// MaxBlockSize is the largest block (stripe) size: it bounds the memory of one call
	// (about 2*B*(k+m)/k) and keeps every offset computation far from overflow.
	MaxBlockSize = 1 << 30
	// DefaultBlockSize is the stripe size used unless the caller has a reason to pick another.
	// BenchmarkBlockSize (BENCHMARKS.md) finds decode throughput rising from 256 KiB to 1 MiB
	// and changing little after, and encode showing no consistent trend within the noise of a
	// shared machine. Larger blocks cost memory (a call holds about 2*B*(k+m)/k bytes of
	// buffers) and small-read amplification (a 4 KiB read reads a whole B/k-byte block), so
	// 1 MiB (also MinIO's choice); drives still get B/k-byte writes (64 KiB to 1 MiB).
	DefaultBlockSize = 1 << 20
)

// bufAlign is the alignment of each block's data in a stripe buffer: the checksum sits in the
// bufAlign bytes before it, so the data the SIMD code reads and writes starts on a cache line.
const bufAlign = 64

// Codec encodes objects into framed shard streams and decodes them back for one geometry
// (k, m, B, bitrot algorithm). It is immutable and safe for concurrent use.
type Codec struct {
	k, m      int
	blockSize int64 // B: bytes of object per stripe
	bfull     int   // ceil(B/k): bytes of each shard's block in a full stripe
	hashSize  int   // bytes of the checksum before each block
	stride    int   // bytes of one shard's region in a stripeBuf
	rs        reedsolomon.Encoder
	hasher    *bitrotHasher
	sets      sync.Pool // of *stripeBuf sized for this geometry
	// depth is the number of stripes a call keeps in flight: 2 overlaps reading stripe s+1
	// with writing stripe s (the default); 1 does one stripe at a time, which benchmarks
	// use to measure what the overlap buys.
	depth int
}

// New returns a codec for k data and m parity shards, stripes of blockSize bytes and the given
// bitrot checksum: 1 <= k, 0 <= m, k+m <= MaxShards (m = 0 is valid: no parity, checksums
// still on), 0 < blockSize <= MaxBlockSize, alg available in this binary.
func New(dataShards, parityShards int, blockSize int64, alg BitrotAlgorithm) (*Codec, error) {
	return newCodec(dataShards, parityShards, blockSize, alg)
}

// newCodec is New with extra reedsolomon options, which tests use to force the generic
// (non-SIMD) code paths. Options that change the coding matrix would change the on-disk
// format and must never be passed.
func newCodec(dataShards, parityShards int, blockSize int64, alg BitrotAlgorithm, rsOpts ...reedsolomon.Option) (*Codec, error) {
	if dataShards < 1 || parityShards < 0 || dataShards+parityShards > MaxShards {
		return nil, fmt.Errorf("%w: %d data + %d parity shards (need 1 <= k, 0 <= m, k+m <= %d)",
			ErrInvalidArgument, dataShards, parityShards, MaxShards)
	}
	if blockSize <= 0 || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("%w: block size %d (need 0 < B <= %d)", ErrInvalidArgument, blockSize, MaxBlockSize)
	}
	h, err := newBitrotHasher(alg)
	if err != nil {
		return nil, err
	}
	bfull := int((blockSize + int64(dataShards) - 1) / int64(dataShards))
	// One goroutine per reedsolomon call: the codec already runs the stripe's I/O and
	// checksums on their own goroutines, and the library's own splitting would start
	// goroutines (and allocate) for every stripe to gain nothing on a busy server.
	rsOpts = append([]reedsolomon.Option{reedsolomon.WithMaxGoroutines(1)}, rsOpts...)
	rs, err := reedsolomon.New(dataShards, parityShards, rsOpts...)
	if err != nil {
		return nil, fmt.Errorf("erasure: reedsolomon.New(%d, %d): %w", dataShards, parityShards, err)
	}
	c := &Codec{
		k:         dataShards,
		m:         parityShards,
		blockSize: blockSize,
		bfull:     bfull,
		hashSize:  alg.Size(),
		stride:    (bufAlign + bfull + bufAlign - 1) / bufAlign * bufAlign,
		rs:        rs,
		hasher:    h,
		depth:     2,
	}
	c.sets.New = func() any { return c.newStripeBuf() }
	return c, nil
}

// DataShards returns k.
func (c *Codec) DataShards() int { return c.k }

// ParityShards returns m.
func (c *Codec) ParityShards() int { return c.m }

// TotalShards returns k+m, the length of the reader and writer slices every call takes.
func (c *Codec) TotalShards() int { return c.k + c.m }

// StripeSize returns B, the object bytes per stripe.
func (c *Codec) StripeSize() int64 { return c.blockSize }

// Bitrot returns the codec's checksum algorithm.
func (c *Codec) Bitrot() BitrotAlgorithm { return c.hasher.alg }

// stripeBuf holds one stripe: for each shard, a region of c.stride bytes whose block data
// starts at offset bufAlign, with the block's checksum in the hashSize bytes before it.
type stripeBuf struct {
	mem    []byte
	region [][]byte // region[i]: shard i's c.stride bytes of mem
	shards [][]byte // shards[i]: block data of shard i as handed to reedsolomon
	// pending counts the shard writes (or reads) of this stripe still in flight; the buffer
	// must not be touched by the coordinating goroutine until it is zero.
	pending sync.WaitGroup
	// errs[i] is the result of shard i's last I/O on this buffer, written by shard i's worker
	// before pending.Done and read by the coordinator after pending.Wait.
	errs []error
	// parityReady is held while Encode's encoder goroutine computes this stripe's parity;
	// parity writers wait on it. encodeErr is the encoder's result, written before
	// parityReady.Done and pending.Done, read after pending.Wait.
	parityReady sync.WaitGroup
	encodeErr   error

	// Decoding into the caller's buffer (DecodeInto): dst[i] is where shard i's block of
	// the stripe being gathered is read, or rebuilt, in place, for the shards in inPlace
	// (their bytes need no copy). tainted tells that an in-place read failed with
	// ErrBufferAbandoned: it may still write into its buffers, so this stripeBuf never
	// goes back to the pool.
	dst     [MaxShards][]byte
	inPlace uint32
	tainted bool
}

func (c *Codec) newStripeBuf() *stripeBuf {
	n := c.k + c.m
	s := &stripeBuf{
		mem:    make([]byte, n*c.stride),
		region: make([][]byte, n),
		shards: make([][]byte, n),
		errs:   make([]error, n),
	}
	for i := range n {
		s.region[i] = s.mem[i*c.stride : (i+1)*c.stride : (i+1)*c.stride]
	}
	return s
}

func (c *Codec) getStripeBuf() *stripeBuf { return c.sets.Get().(*stripeBuf) }

func (c *Codec) putStripeBuf(s *stripeBuf) {
	if s.tainted {
		// A read that timed out may still write into it: leave it to that read and the GC.
		return
	}
	clear(s.errs)
	clear(s.dst[:])
	s.inPlace = 0
	c.sets.Put(s)
}

// data returns shard i's block data of b bytes.
func (s *stripeBuf) data(i, b int) []byte { return s.region[i][bufAlign : bufAlign+b] }

// sum returns shard i's checksum slot, just before its block data.
func (s *stripeBuf) sum(i, hashSize int) []byte { return s.region[i][bufAlign-hashSize : bufAlign] }

// framed returns shard i's checksum and block of b bytes, as they lie in the shard file.
func (s *stripeBuf) framed(i, b, hashSize int) []byte {
	return s.region[i][bufAlign-hashSize : bufAlign+b]
}
