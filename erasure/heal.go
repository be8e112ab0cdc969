package erasure

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Heal rebuilds shard files. It reads the object's shards through readers as Decode does
// (readers[i] may be nil) and writes complete, freshly framed shard files to writers[i] for
// every i with writers[i] != nil: the shards to rebuild. It reads the shards being rebuilt
// only when the others are not enough.
//
// shardErrs[i] is, for a shard being rebuilt, the error that stopped its writer (nil when its
// file was written completely), and for every other shard what was wrong when reading it, as
// in Decode. err is nil only when every requested shard file was written completely; it is
// ErrReadQuorum when some stripe had fewer than k intact shards.
func (c *Codec) Heal(ctx context.Context, readers []io.ReaderAt, writers []io.Writer, totalSize int64) (shardErrs []error, err error) {
	total := c.k + c.m
	if len(readers) != total || len(writers) != total {
		return nil, fmt.Errorf("%w: %d readers and %d writers for %d shards", ErrInvalidArgument, len(readers), len(writers), total)
	}
	if err := c.checkSize(totalSize); err != nil {
		return nil, err
	}
	var targets uint32
	for i, w := range writers {
		if w != nil {
			targets |= 1 << i
		}
	}
	readErrs := make([]error, total)
	g := new(gatherer)
	g.init(c, readers, readErrs)
	if targets == 0 {
		return readErrs, nil
	}
	writeErrs := make([]error, total)
	sw := c.startWriters(writers, writeErrs, false)
	err = c.heal(ctx, g, sw, targets, totalSize)

	g.stop()
	sw.stop()
	shardErrs = readErrs
	failed := 0
	for i := range total {
		if targets&(1<<i) != 0 {
			shardErrs[i] = writeErrs[i]
			if writeErrs[i] != nil {
				failed++
			}
		}
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("erasure: heal: %d shard files not written: %w", failed, errors.Join(writeErrs...))
	}
	return shardErrs, err
}

// heal gathers each stripe into one of two buffers, rebuilds the targets' blocks and hands
// them to the writers, which write stripe s while stripe s+1 is being read.
func (c *Codec) heal(ctx context.Context, g *gatherer, sw *shardWriters, targets uint32, size int64) error {
	var bufs [2]*stripeBuf
	defer func() {
		for _, buf := range bufs {
			if buf != nil {
				sw.collect(buf) // no encoder, so no error: the write errors are in writeErrs
				c.putStripeBuf(buf)
			}
		}
	}()
	for s := range c.Stripes(size) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: heal: %w", err)
		}
		buf := bufs[s%int64(c.depth)]
		if buf == nil {
			buf = c.getStripeBuf()
			bufs[s%int64(c.depth)] = buf
		} else if alive, _ := sw.collect(buf); alive == 0 {
			return nil // every writer failed: Heal reports their errors
		}
		b := c.BlockSize(size, s)
		if err := g.gather(ctx, buf, s, b, targets, targets); err != nil {
			return err
		}
		sw.dispatch(buf, b)
	}
	return nil
}

// VerifyShard checks every block checksum of one shard file of an object of totalSize bytes,
// and that the file holds nothing past its last block: the deep scan behind a heal check. It
// returns nil for a sound file, else an error wrapping ErrShardCorrupt, ErrShardTruncated or
// the reader's error. It stops at the first problem, and between blocks when ctx is done.
func (c *Codec) VerifyShard(ctx context.Context, r io.ReaderAt, totalSize int64) error {
	if err := c.checkSize(totalSize); err != nil {
		return err
	}
	if r == nil {
		return ErrShardMissing
	}
	buf := c.getStripeBuf()
	defer c.putStripeBuf(buf)
	for s := range c.Stripes(totalSize) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("erasure: verify: %w", err)
		}
		if err := c.readBlock(r, buf.framed(0, c.BlockSize(totalSize, s), c.hashSize), c.BlockOffset(s)); err != nil {
			return fmt.Errorf("stripe %d: %w", s, err)
		}
	}
	var probe [1]byte
	end := c.ShardFileSize(totalSize)
	n, err := r.ReadAt(probe[:], end)
	switch {
	case n > 0:
		return fmt.Errorf("%w: shard file longer than %d bytes", ErrShardCorrupt, end)
	case err != nil && err != io.EOF:
		return fmt.Errorf("erasure: reading past the last block at %d: %w", end, err)
	}
	return nil
}
