package erasure

import (
	"context"
	"fmt"
	"io"
)

// Encode reads an object from r and writes its framed shard streams to writers, which must be
// TotalShards long: writers[i] receives shard file i, in order, block after block.
//
// If size >= 0, r must hold exactly size bytes: fewer is io.ErrUnexpectedEOF, more is
// ErrSizeExceeded. If size < 0, Encode reads until io.EOF. Any other error from r, even one
// returned together with the object's last bytes, aborts Encode with that error wrapped:
// callers rely on it to reject a body whose signature check fails at EOF.
//
// A nil writer is an offline drive: it is skipped and errs[i] is ErrShardMissing. A writer
// that fails (error or short write) gets nothing more and its error is recorded in errs[i];
// encoding goes on while at least writeQuorum writers are alive, and stops with
// ErrWriteQuorum below that. writeQuorum must be between k and k+m: fewer than k shards could
// not be read back.
//
// n is the number of object bytes read and encoded. On error the shard streams are incomplete
// and the caller must discard them. Encode returns only after every Write it started has
// returned; after it returns it never touches r or the writers again.
func (c *Codec) Encode(ctx context.Context, r io.Reader, size int64, writers []io.Writer, writeQuorum int) (n int64, errs []error, err error) {
	total := c.k + c.m
	if len(writers) != total {
		return 0, nil, fmt.Errorf("%w: %d writers for %d shards", ErrInvalidArgument, len(writers), total)
	}
	if writeQuorum < c.k || writeQuorum > total {
		return 0, nil, fmt.Errorf("%w: write quorum %d (need %d..%d)", ErrInvalidArgument, writeQuorum, c.k, total)
	}
	if size >= 0 {
		if err := c.checkSize(size); err != nil {
			return 0, nil, err
		}
	}
	errs = make([]error, total)
	live := 0
	for i, w := range writers {
		if w == nil {
			errs[i] = ErrShardMissing
		} else {
			live++
		}
	}
	if live < writeQuorum {
		return 0, errs, fmt.Errorf("%w: %d of %d writers online, need %d", ErrWriteQuorum, live, total, writeQuorum)
	}
	if err := ctx.Err(); err != nil {
		return 0, errs, fmt.Errorf("erasure: encode: %w", err)
	}

	e := encoder{c: c, ctx: ctx, src: objectReader{r: r}, size: size, quorum: writeQuorum}
	e.sw = c.startWriters(writers, errs, true)
	err = e.run()
	// Drain: every buffer's writes must be over before the buffers go back to the pool and
	// before the caller may close its writers.
	for _, buf := range e.bufs {
		if buf != nil {
			alive, cerr := e.sw.collect(buf)
			if err == nil && cerr != nil {
				err = cerr
			}
			if err == nil && alive < writeQuorum {
				err = e.quorumErr(alive)
			}
			c.putStripeBuf(buf)
		}
	}
	e.sw.stop()
	return e.src.n, errs, err
}

// encoder is the state of one Encode call, owned by the calling goroutine.
type encoder struct {
	c      *Codec
	ctx    context.Context
	src    objectReader
	size   int64 // declared size, < 0 if unknown
	quorum int
	sw     *shardWriters
	bufs   [2]*stripeBuf // c.depth of them: read stripe s+1 while stripe s is written
}

func (e *encoder) quorumErr(alive int) error {
	return fmt.Errorf("%w: %d of %d shard writers alive, need %d", ErrWriteQuorum, alive, e.c.k+e.c.m, e.quorum)
}

// run encodes stripe after stripe until the object ends or something fails.
func (e *encoder) run() error {
	c := e.c
	stripes := c.Stripes(e.size)
	if e.size == 0 {
		return e.src.expectEOF()
	}
	for s := int64(0); e.size < 0 || s < stripes; s++ {
		if err := e.ctx.Err(); err != nil {
			return fmt.Errorf("erasure: encode: %w", err)
		}
		buf := e.bufs[s%int64(c.depth)]
		if buf == nil {
			buf = c.getStripeBuf()
			e.bufs[s%int64(c.depth)] = buf
		} else if alive, err := e.sw.collect(buf); err != nil {
			return err
		} else if alive < e.quorum {
			return e.quorumErr(alive)
		}
		var b int
		if e.size >= 0 {
			b = c.BlockSize(e.size, s)
			l := int(min(c.blockSize, e.size-s*c.blockSize))
			if err := e.readKnown(buf, l, b); err != nil {
				return err
			}
			if s == stripes-1 {
				if err := e.src.expectEOF(); err != nil {
					return err
				}
			}
		} else {
			l, err := e.readUnknown(buf)
			if err != nil {
				return err
			}
			if l == 0 {
				return nil
			}
			b = (l + c.k - 1) / c.k
			if b < c.bfull {
				c.relayout(buf, l, b)
			}
		}
		for i := range buf.shards {
			buf.shards[i] = buf.data(i, b)
		}
		// The encoder goroutine computes the parity while the data blocks are being written
		// and this goroutine reads the next stripe.
		e.sw.dispatch(buf, b)
		if e.size < 0 && e.src.eof {
			return nil
		}
	}
	return nil
}

// readKnown reads a stripe of l bytes (its blocks b bytes long) into buf's data blocks and
// zeroes the padding.
func (e *encoder) readKnown(buf *stripeBuf, l, b int) error {
	for i := range e.c.k {
		d := buf.data(i, b)
		want := min(b, max(l-i*b, 0))
		got, err := e.src.readFull(d[:want])
		if err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("erasure: object ended after %d of %d bytes: %w", e.src.n, e.size, io.ErrUnexpectedEOF)
		}
		clear(d[want:])
	}
	return nil
}

// readUnknown reads up to a full stripe into buf's data blocks laid out for a full stripe,
// zeroes the rest, and returns how many bytes it read: fewer than B only at the end of the
// object.
func (e *encoder) readUnknown(buf *stripeBuf) (int, error) {
	c := e.c
	l := 0
	for i := 0; i < c.k && !e.src.eof; i++ {
		want := min(c.bfull, int(c.blockSize)-l)
		got, err := e.src.readFull(buf.data(i, c.bfull)[:want])
		if err != nil {
			return 0, err
		}
		l += got
	}
	// Zero what follows the data: the last block's padding, whatever the buffer held before.
	for i := range c.k {
		clear(buf.data(i, c.bfull)[min(max(l-i*c.bfull, 0), c.bfull):])
	}
	return l, nil
}

// relayout moves the l bytes of a short last stripe, read in the layout of a full stripe
// (stripe byte p at offset p%bfull of block p/bfull), into the layout of a stripe of l bytes
// (byte p at offset p%b of block p/b, b = ceil(l/k) <= bfull), in place, and zero-pads it.
//
// It fills the destination blocks from the last to the first. Destination block i takes bytes
// [i*b, (i+1)*b), which sit in source blocks <= i, and overwrites source bytes
// [i*bfull, i*bfull+b), which only destination blocks >= i take: those are done already, or
// (for block i itself) are moved first, since the copy fills the block from its end.
func (c *Codec) relayout(buf *stripeBuf, l, b int) {
	for i := c.k - 1; i >= 0; i-- {
		dst := buf.data(i, b)
		lo := min(i*b, l)
		hi := min(lo+b, l)
		for p := hi; p > lo; {
			src := (p - 1) / c.bfull
			start := max(lo, src*c.bfull)
			copy(dst[start-lo:p-lo], buf.data(src, c.bfull)[start-src*c.bfull:p-src*c.bfull])
			p = start
		}
		clear(dst[hi-lo:])
	}
}

// objectReader reads the object for Encode and counts its bytes.
type objectReader struct {
	r   io.Reader
	n   int64 // bytes read so far
	eof bool  // r returned io.EOF
}

// maxEmptyReads bounds how many (0, nil) results in a row a reader may return.
const maxEmptyReads = 100

// readFull reads into p until p is full or r reports io.EOF (then eof is set and the count may
// be short). Unlike io.ReadFull it never drops an error that came with the last bytes: any
// error other than io.EOF is returned, wrapped.
func (o *objectReader) readFull(p []byte) (int, error) {
	got, empty := 0, 0
	for got < len(p) && !o.eof {
		m, err := o.r.Read(p[got:])
		if m < 0 || m > len(p)-got {
			return got, fmt.Errorf("erasure: reading object: Read returned %d for a %d-byte buffer", m, len(p)-got)
		}
		got += m
		o.n += int64(m)
		switch {
		case err == io.EOF:
			o.eof = true
		case err != nil:
			return got, fmt.Errorf("erasure: reading object: %w", err)
		case m == 0:
			if empty++; empty >= maxEmptyReads {
				return got, fmt.Errorf("erasure: reading object: %w", io.ErrNoProgress)
			}
		}
	}
	return got, nil
}

// expectEOF checks that the object has no byte past its declared size, and that the reader
// ends with io.EOF rather than an error.
func (o *objectReader) expectEOF() error {
	var probe [1]byte
	got, err := o.readFull(probe[:])
	if err != nil {
		return err
	}
	if got > 0 {
		return fmt.Errorf("%w: more than %d bytes", ErrSizeExceeded, o.n-1)
	}
	return nil
}
