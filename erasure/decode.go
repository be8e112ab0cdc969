package erasure

import (
	"context"
	"fmt"
	"io"
)

// Decode writes bytes [offset, offset+length) of an object of totalSize bytes to w, reading
// its shard files through readers (TotalShards long; readers[i] reads shard file i, nil means
// unavailable).
//
// It reads only the stripes that hold the range and, within each, only the data blocks that
// hold it, in parallel, verifying each against its checksum. When one of those is missing,
// short or corrupt, it reads other shards until k are intact and rebuilds the data: it needs k
// intact shards per stripe and fails with ErrReadQuorum below that, never returning bytes it
// could not verify. shardErrs[i] tells what was wrong with shard i, if anything
// (ErrShardMissing, ErrShardCorrupt, ErrShardTruncated, or the reader's error, wrapped), so the
// caller can queue a heal; shards it did not read are not checked.
//
// An offset or length outside the object is ErrInvalidArgument. n is the number of bytes
// written to w. While w consumes one stripe, the next one is being read. Decode returns only
// after every ReadAt it started has returned.
func (c *Codec) Decode(ctx context.Context, w io.Writer, readers []io.ReaderAt, offset, length, totalSize int64) (n int64, shardErrs []error, err error) {
	if err := c.checkRange(readers, offset, length, totalSize); err != nil {
		return 0, nil, err
	}
	d := &decoder{c: c, w: w, offset: offset, end: offset + length, size: totalSize}
	return d.run(ctx, readers)
}

// DecodeInto is Decode into dst: it decodes len(dst) bytes at offset. The data blocks that
// lie wholly inside the range are read straight into dst and verified there, or rebuilt
// there when their shards are not intact (no copy); the blocks at the edges of the range
// go through the stripe buffer and are copied in. Its readers may be BlockReaderAt, which reads a block's checksum and bytes in one
// call.
//
// An error wrapping ErrBufferAbandoned means that a read into dst failed and may still
// write into it later: the caller must not use dst's memory again (any other error leaves
// dst to the caller, its contents undefined).
func (c *Codec) DecodeInto(ctx context.Context, dst []byte, readers []io.ReaderAt, offset, totalSize int64) (n int64, shardErrs []error, err error) {
	if err := c.checkRange(readers, offset, int64(len(dst)), totalSize); err != nil {
		return 0, nil, err
	}
	d := &decoder{c: c, dst: dst, offset: offset, end: offset + int64(len(dst)), size: totalSize}
	return d.run(ctx, readers)
}

// checkRange rejects readers of the wrong count and a range outside the object.
func (c *Codec) checkRange(readers []io.ReaderAt, offset, length, totalSize int64) error {
	if len(readers) != c.k+c.m {
		return fmt.Errorf("%w: %d readers for %d shards", ErrInvalidArgument, len(readers), c.k+c.m)
	}
	if err := c.checkSize(totalSize); err != nil {
		return err
	}
	if offset < 0 || length < 0 || offset > totalSize || length > totalSize-offset {
		return fmt.Errorf("%w: range [%d, +%d) of a %d-byte object", ErrInvalidArgument, offset, length, totalSize)
	}
	return nil
}

// run decodes d's range.
func (d *decoder) run(ctx context.Context, readers []io.ReaderAt) (n int64, shardErrs []error, err error) {
	c := d.c
	offset, length := d.offset, d.end-d.offset
	shardErrs = d.errsBuf[:c.k+c.m]
	d.g.init(c, readers, shardErrs)
	if length == 0 {
		return 0, shardErrs, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, shardErrs, fmt.Errorf("erasure: decode: %w", err)
	}
	first, last := offset/c.blockSize, (offset+length-1)/c.blockSize
	if first == last || c.depth == 1 {
		// One stripe has nothing to overlap: no pipeline goroutine.
		err = d.sequential(ctx, first, last)
	} else {
		err = d.pipeline(ctx, first, last)
	}
	d.g.stop()
	return d.n, shardErrs, err
}

// decoder is the state of one Decode call, its gatherer and the shard errors it returns
// included (one allocation).
type decoder struct {
	c           *Codec
	g           gatherer
	errsBuf     [MaxShards]error // backs the shardErrs Decode returns
	w           io.Writer        // Decode's destination
	dst         []byte           // DecodeInto's destination, for the range; nil for Decode
	offset, end int64            // the range, in object bytes
	size        int64
	n           int64 // bytes written to w
}

// span returns the part of the range inside stripe s, in bytes from the stripe's start.
func (d *decoder) span(s int64) (lo, hi int) {
	start := s * d.c.blockSize
	lo = int(max(d.offset-start, 0))
	hi = int(min(d.end-start, d.c.blockSize, d.size-start))
	return lo, hi
}

// want returns the data shards whose blocks of stripe s hold part of the range.
func (d *decoder) want(s int64) uint32 {
	b := d.c.BlockSize(d.size, s)
	lo, hi := d.span(s)
	first, last := lo/b, (hi-1)/b
	return (uint32(1)<<(last+1) - 1) &^ (uint32(1)<<first - 1)
}

// place sets buf up to read (or rebuild) stripe s's data blocks that lie wholly inside
// DecodeInto's range straight into dst. Shards read from memory are copied as before.
func (d *decoder) place(buf *stripeBuf, s int64) {
	buf.inPlace = 0
	if d.dst == nil {
		return
	}
	b := int64(d.c.BlockSize(d.size, s))
	for j := range d.c.k {
		start := s*d.c.blockSize + int64(j)*b
		if start < d.offset || start+b > d.end || d.g.inMemory&(1<<j) != 0 {
			continue
		}
		buf.dst[j] = d.dst[start-d.offset : start-d.offset+b : start-d.offset+b]
		buf.inPlace |= 1 << j
	}
}

// gather reads stripe s into buf (and, for DecodeInto, the blocks it can into dst).
func (d *decoder) gather(ctx context.Context, buf *stripeBuf, s int64) error {
	d.place(buf, s)
	return d.g.gather(ctx, buf, s, d.c.BlockSize(d.size, s), d.want(s), 0)
}

// emit writes the range's bytes of stripe s, which gather put into buf, to w (or copies
// into dst those that gather did not read there).
func (d *decoder) emit(buf *stripeBuf, s int64) error {
	b := d.c.BlockSize(d.size, s)
	lo, hi := d.span(s)
	for j := lo / b; j*b < hi; j++ {
		p := buf.data(j, b)[max(lo-j*b, 0):min(hi-j*b, b)]
		if d.dst != nil {
			if buf.inPlace&(1<<j) == 0 {
				copy(d.dst[d.n:], p)
			}
			d.n += int64(len(p))
			continue
		}
		m, err := d.w.Write(p)
		d.n += int64(m)
		if err == nil && m != len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return fmt.Errorf("erasure: writing decoded data: %w", err)
		}
	}
	return nil
}

// sequential decodes stripes first..last one at a time.
func (d *decoder) sequential(ctx context.Context, first, last int64) error {
	buf := d.c.getStripeBuf()
	defer d.c.putStripeBuf(buf)
	for s := first; s <= last; s++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: decode: %w", err)
		}
		if err := d.gather(ctx, buf, s); err != nil {
			return err
		}
		if err := d.emit(buf, s); err != nil {
			return err
		}
	}
	return nil
}

// fetched is a stripe the fetch goroutine gathered (or failed to).
type fetched struct {
	buf *stripeBuf
	s   int64
	err error
}

// pipeline decodes stripes first..last with two buffers: a fetch goroutine gathers stripe
// s+1 while this goroutine writes stripe s to w.
func (d *decoder) pipeline(ctx context.Context, first, last int64) error {
	c := d.c
	free := make(chan *stripeBuf, 2)
	ready := make(chan fetched, 2)
	quit := make(chan struct{})
	exited := make(chan struct{})
	free <- c.getStripeBuf()
	free <- c.getStripeBuf()

	// The fetch goroutine owns d.g (and so shardErrs) until it exits.
	go func() {
		defer close(exited)
		for s := first; s <= last; s++ {
			select {
			case <-quit:
				return
			default:
			}
			var buf *stripeBuf
			select {
			case buf = <-free:
			case <-quit:
				return
			}
			err := ctx.Err()
			if err != nil {
				err = fmt.Errorf("erasure: decode: %w", err)
			} else {
				err = d.gather(ctx, buf, s)
			}
			ready <- fetched{buf: buf, s: s, err: err}
			if err != nil {
				return
			}
		}
	}()

	var err error
	for s := first; s <= last && err == nil; s++ {
		f := <-ready
		if err = f.err; err == nil {
			err = d.emit(f.buf, f.s)
		}
		free <- f.buf
	}
	close(quit)
	<-exited
	// Every buffer is now in free or ready; both channels hold two.
	for range 2 {
		select {
		case buf := <-free:
			c.putStripeBuf(buf)
		case f := <-ready:
			c.putStripeBuf(f.buf)
		}
	}
	return err
}
