package erasure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

// MemoryReaderAt is a shard reader whose ReadAt only copies from memory: it never blocks
// and cannot stall. Decode and Heal read such shards on their own goroutine instead of
// handing them to a reader goroutine.
type MemoryReaderAt interface {
	io.ReaderAt
	// ReadsMemory marks the type; it is never called.
	ReadsMemory()
}

// BlockReaderAt is a shard reader that reads one framed block into two buffers: the
// checksum into sum and the block's bytes into data, both in one call (one vectored read
// for a local file), so that DecodeInto can read a data block straight into the caller's
// buffer. It returns the bytes read into sum and data together; a short count comes with
// an error (io.EOF at the end of the file).
//
// Unlike io.ReaderAt, after an error wrapping ErrBufferAbandoned it may still write into
// sum and data (a drive read that timed out goes on in the background): the caller must
// not use their memory again.
type BlockReaderAt interface {
	io.ReaderAt
	ReadBlockAt(sum, data []byte, off int64) (int, error)
}

// readJob asks shard i's reader goroutine to read and verify its block of one stripe.
type readJob struct {
	buf *stripeBuf
	b   int   // block length of the stripe
	off int64 // offset of the block's checksum in the shard file
}

// gatherer reads the shard blocks of one stripe after another for Decode and Heal: the blocks
// it needs, checked against their checksums, in parallel, and as few as it can. It rebuilds
// the blocks it was asked for from any k intact ones.
//
// A gatherer belongs to one goroutine (its coordinator); its workers talk to it only through
// the jobs channels and the stripeBuf's pending counter and errs slots.
type gatherer struct {
	c       *Codec
	readers []io.ReaderAt
	// jobs[i] feeds shard i's worker, started on first use; nil before.
	jobs [MaxShards]chan readJob
	done sync.WaitGroup // running worker goroutines
	// errs[i] is the first problem seen with shard i (nil reader, corrupt or short block,
	// read error). It is the caller's shardErrs slice.
	errs []error
	// suspect has bit i set once shard i failed, or from the start when its reader is a
	// SlowReaderAt that reports itself slow: later stripes read it only when the others
	// are not enough, since a corrupt or failing drive is likely to fail again.
	suspect  uint32
	missing  uint32          // bit i set when readers[i] is nil
	inMemory uint32          // bit i set when readers[i] is a MemoryReaderAt
	required [MaxShards]bool // scratch for ReconstructSome
}

// init readies g, a zero gatherer, for reading through readers (TotalShards long) and
// recording their problems in errs. A gatherer is a value, not a pointer the codec
// returns, so that a caller can embed it in its own state and allocate both at once.
func (g *gatherer) init(c *Codec, readers []io.ReaderAt, errs []error) {
	g.c, g.readers, g.errs = c, readers, errs
	for i, r := range readers {
		if r == nil {
			g.missing |= 1 << i
			errs[i] = ErrShardMissing
		}
		if _, ok := r.(MemoryReaderAt); ok {
			g.inMemory |= 1 << i
		}
		if sr, ok := r.(SlowReaderAt); ok && sr.Slow() {
			// A slow shard is read last, as a suspect one is, but is not a fault: no
			// error is recorded, so no heal is queued for it.
			g.suspect |= 1 << i
		}
	}
}

// stop ends the workers and waits for them. No gather may be in progress.
func (g *gatherer) stop() {
	for _, ch := range g.jobs {
		if ch != nil {
			close(ch)
		}
	}
	g.done.Wait()
}

// worker is shard i's reader goroutine: it runs first, then the jobs it receives.
func (g *gatherer) worker(i int, first readJob, jobs <-chan readJob) {
	defer g.done.Done()
	for j, ok := first, true; ok; j, ok = <-jobs {
		j.buf.errs[i] = g.readBlock(i, j.buf, j.b, j.off)
		j.buf.pending.Done()
	}
}

// readBlock reads shard i's framed block of b bytes at off into buf (or, for a shard read in
// place, its checksum into buf and its bytes into buf.dst[i]) and verifies it.
func (g *gatherer) readBlock(i int, buf *stripeBuf, b int, off int64) error {
	var err error
	if buf.inPlace&(1<<i) != 0 {
		err = g.c.readBlockInto(g.readers[i], buf.sum(i, g.c.hashSize), buf.dst[i], off)
	} else {
		err = g.c.readBlock(g.readers[i], buf.framed(i, b, g.c.hashSize), off)
	}
	if err != nil {
		return fmt.Errorf("shard %d: %w", i, err)
	}
	return nil
}

// readBlock reads the framed block f (checksum and block) at off through r and verifies it.
func (c *Codec) readBlock(r io.ReaderAt, f []byte, off int64) error {
	n, err := r.ReadAt(f, off)
	return c.checkBlock(n, err, f[:c.hashSize], f[c.hashSize:], off)
}

// readBlockInto reads the framed block at off through r, its checksum into sum and its
// bytes into data, and verifies it: one ReadBlockAt when r is a BlockReaderAt, else two
// ReadAt calls.
func (c *Codec) readBlockInto(r io.ReaderAt, sum, data []byte, off int64) error {
	if br, ok := r.(BlockReaderAt); ok {
		n, err := br.ReadBlockAt(sum, data, off)
		return c.checkBlock(n, err, sum, data, off)
	}
	n, err := r.ReadAt(sum, off)
	if n == len(sum) && (err == nil || err == io.EOF) {
		var m int
		m, err = r.ReadAt(data, off+int64(len(sum)))
		n += m
	}
	return c.checkBlock(n, err, sum, data, off)
}

// checkBlock judges a read of n bytes of the framed block at off (checksum sum, bytes data)
// that returned err, and verifies the checksum.
func (c *Codec) checkBlock(n int, err error, sum, data []byte, off int64) error {
	size := len(sum) + len(data)
	switch {
	case n < 0 || n > size:
		return fmt.Errorf("erasure: ReadAt returned %d for a %d-byte block", n, size)
	case n < size && (err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("%w: %d of %d bytes at offset %d", ErrShardTruncated, n, size, off)
	case err != nil && err != io.EOF:
		return fmt.Errorf("erasure: reading block at offset %d: %w", off, err)
	case !c.hasher.verify(sum, data):
		return fmt.Errorf("%w: block at offset %d", ErrShardCorrupt, off)
	}
	return nil
}

// readRound reads and verifies the blocks of the shards in set, in parallel: all but one on
// the workers, one on the calling goroutine. It returns the shards that came back intact and
// records the others' errors.
func (g *gatherer) readRound(buf *stripeBuf, set uint32, b int, off int64) (good uint32) {
	// local holds the shards read on this goroutine: those in memory (a copy is cheaper
	// than a hand-off) and the first of the others.
	local := set & g.inMemory
	others := set &^ g.inMemory
	if others != 0 {
		local |= others & -others
	}
	for rest := set &^ local; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros32(rest)
		job := readJob{buf: buf, b: b, off: off}
		buf.pending.Add(1)
		if g.jobs[i] == nil {
			// A worker starts with its first job, so its channel need not be buffered:
			// each later job comes after this coordinator waited for the previous one,
			// when the worker is back at its receive.
			g.jobs[i] = make(chan readJob)
			g.done.Add(1)
			go g.worker(i, job, g.jobs[i])
			continue
		}
		g.jobs[i] <- job
	}
	for rest := local; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros32(rest)
		buf.errs[i] = g.readBlock(i, buf, b, off)
	}
	buf.pending.Wait()
	for rest := set; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros32(rest)
		if err := buf.errs[i]; err != nil {
			buf.errs[i] = nil
			if errors.Is(err, ErrBufferAbandoned) {
				buf.tainted = true
			}
			g.suspect |= 1 << i
			if g.errs[i] == nil {
				g.errs[i] = err
			}
			continue
		}
		good |= 1 << i
	}
	return good
}

// gather fills buf with stripe s (blocks of b bytes) so that the blocks of every shard in want
// are intact in buf.data, and sets buf.shards up for that stripe. When every wanted block can
// come from its own shard, it reads just those; otherwise (a wanted shard is offline, suspect,
// or in avoid) it reads k shards at once. If reads fail, it reads more until k are intact,
// then rebuilds the wanted blocks. Shards in avoid (the ones Heal rewrites) and suspect ones
// are read last. Fewer than k intact blocks is ErrReadQuorum.
func (g *gatherer) gather(ctx context.Context, buf *stripeBuf, s int64, b int, want, avoid uint32) error {
	c := g.c
	k, n := c.k, c.k+c.m
	usable := (uint32(1)<<n - 1) &^ g.missing
	// Candidates in order of preference: healthy shards not being rebuilt (data first, as
	// the lower bits), then suspect ones, then the ones being rebuilt.
	tiers := [3]uint32{usable &^ avoid &^ g.suspect, usable &^ avoid, usable}
	off := c.BlockOffset(s)

	if want == 0 {
		return nil
	}
	next := want & tiers[0]
	if want&^next != 0 {
		for _, tier := range tiers {
			next |= lowest(tier&^next, k-bits.OnesCount32(next))
		}
	}
	var good, tried uint32
	for {
		if next == 0 {
			return fmt.Errorf("%w: stripe %d: %d of %d shards intact, need %d",
				ErrReadQuorum, s, bits.OnesCount32(good), n, k)
		}
		tried |= next
		good |= g.readRound(buf, next, b, off)
		if buf.tainted {
			return fmt.Errorf("%w: stripe %d", ErrBufferAbandoned, s)
		}
		if want&^good == 0 || bits.OnesCount32(good) >= k {
			break
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: stripe %d: %w", s, err)
		}
		next = 0
		for _, tier := range tiers {
			next |= lowest(tier&^tried&^next, k-bits.OnesCount32(good)-bits.OnesCount32(next))
		}
	}
	for i := range n {
		// A block read in place that is not intact is rebuilt in place too: reedsolomon
		// rebuilds into the empty slice's capacity.
		buf.shards[i] = buf.data(i, b)
		if buf.inPlace&(1<<i) != 0 {
			buf.shards[i] = buf.dst[i]
		}
		if good&(1<<i) == 0 {
			buf.shards[i] = buf.shards[i][:0]
		}
		g.required[i] = want&(1<<i) != 0
	}
	if want&^good == 0 {
		return nil
	}
	if err := c.rs.ReconstructSome(buf.shards, g.required[:n]); err != nil {
		return fmt.Errorf("erasure: rebuilding stripe %d: %w", s, err)
	}
	return nil
}

// lowest returns the (up to) n lowest set bits of set.
func lowest(set uint32, n int) uint32 {
	var out uint32
	for ; set != 0 && n > 0; n-- {
		bit := set & -set
		out |= bit
		set &^= bit
	}
	return out
}

// SlowReaderAt is a shard reader that can tell that its drive answers late. Decode reads a
// slow shard only when the others are not enough (as it does one that failed before), so
// that parity serves a read in place of a slow drive's data shard; a slow shard is still
// read rather than failing a read that needs it.
type SlowReaderAt interface {
	io.ReaderAt
	// Slow reports whether reads through this reader are expected to be late; asked once
	// per Decode, before the first read.
	Slow() bool
}
