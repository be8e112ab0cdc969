package erasure

import (
	"fmt"
	"io"
	"sync"
)

// writeJob asks shard i's writer goroutine to checksum and write its block of buf.
type writeJob struct {
	buf        *stripeBuf
	b          int  // block length of this stripe
	waitParity bool // parity is still being computed: parity writers wait for buf.parityReady
}

// shardWriters writes framed blocks to k+m io.Writers, one goroutine per writer, so that the
// drives work in parallel and a slow one lags behind without stopping the others.
//
// All fields except done belong to the coordinating goroutine (the one that calls
// dispatch, collect and stop); workers talk to it only through the jobs channels and the
// stripeBuf's pending counter and errs slots.
type shardWriters struct {
	c     *Codec
	jobs  []chan writeJob // jobs[i] is nil when shard i has no live writer
	errs  []error         // first error of each shard; shared with the caller of Encode/Heal
	alive int             // number of non-nil jobs channels
	done  sync.WaitGroup  // running worker goroutines
	// encode, when not nil, feeds the encoder goroutine that computes each dispatched
	// stripe's parity, so that the coordinator can read the next stripe meanwhile and the
	// data writers need not wait for it.
	encode chan *stripeBuf
}

// writerQueue is the capacity of each worker's job channel. The coordinator owns two stripe
// buffers and waits for a buffer's writes before reusing it, so no worker ever has more than
// two jobs outstanding and dispatch never blocks on a slow writer.
const writerQueue = 2

// startWriters starts one worker per non-nil writer and, with encode and parity shards, an
// encoder goroutine that computes each dispatched stripe's parity. errs must be TotalShards
// long; the workers' failures are recorded in it by collect.
func (c *Codec) startWriters(writers []io.Writer, errs []error, encode bool) *shardWriters {
	sw := &shardWriters{c: c, jobs: make([]chan writeJob, len(writers)), errs: errs}
	if encode && c.m > 0 {
		sw.encode = make(chan *stripeBuf, writerQueue)
		sw.done.Add(1)
		go sw.encoder(sw.encode)
	}
	for i, w := range writers {
		if w == nil {
			continue
		}
		sw.jobs[i] = make(chan writeJob, writerQueue)
		sw.alive++
		sw.done.Add(1)
		go sw.run(i, w, sw.jobs[i])
	}
	return sw
}

// run is shard i's worker: it checksums and writes each block it is given, until its channel
// is closed. After its first failed write it writes nothing more but still completes its jobs,
// so the coordinator never waits forever.
func (sw *shardWriters) run(i int, w io.Writer, jobs <-chan writeJob) {
	defer sw.done.Done()
	hs := sw.c.hashSize
	failed := false
	for j := range jobs {
		if !failed && j.waitParity && i >= sw.c.k {
			j.buf.parityReady.Wait()
		}
		if !failed {
			f := j.buf.framed(i, j.b, hs)
			sw.c.hasher.sum(f[:hs], f[hs:])
			n, err := w.Write(f)
			if err == nil && n != len(f) {
				err = io.ErrShortWrite
			}
			if err != nil {
				failed = true
				j.buf.errs[i] = err
			}
		}
		j.buf.pending.Done()
	}
}

// encoder computes the parity of each stripe it is given, then releases its parity writers.
func (sw *shardWriters) encoder(bufs <-chan *stripeBuf) {
	defer sw.done.Done()
	for buf := range bufs {
		buf.encodeErr = sw.c.rs.Encode(buf.shards)
		buf.parityReady.Done()
		buf.pending.Done()
	}
}

// dispatch hands buf's blocks of length b (buf.shards set up for them) to every live writer,
// and first to the encoder when there is one. The coordinator must not touch buf again before
// collect(buf) returns.
func (sw *shardWriters) dispatch(buf *stripeBuf, b int) {
	if sw.encode != nil {
		buf.parityReady.Add(1)
		buf.pending.Add(1)
		sw.encode <- buf
	}
	for _, ch := range sw.jobs {
		if ch != nil {
			buf.pending.Add(1)
			ch <- writeJob{buf: buf, b: b, waitParity: sw.encode != nil}
		}
	}
}

// collect waits until every write of buf is done, drops the writers that failed (recording
// their errors) and returns the number of writers still alive. A failure to compute buf's
// parity, which only a bug can cause, is returned as an error.
func (sw *shardWriters) collect(buf *stripeBuf) (int, error) {
	buf.pending.Wait()
	if err := buf.encodeErr; err != nil {
		buf.encodeErr = nil
		return sw.alive, fmt.Errorf("erasure: computing parity: %w", err)
	}
	for i, err := range buf.errs {
		if err == nil {
			continue
		}
		buf.errs[i] = nil
		if sw.jobs[i] != nil {
			sw.errs[i] = fmt.Errorf("erasure: writing shard %d: %w", i, err)
			close(sw.jobs[i])
			sw.jobs[i] = nil
			sw.alive--
		}
	}
	return sw.alive, nil
}

// stop ends every worker and the encoder and waits for them. Every dispatched buffer must
// have been collected first.
func (sw *shardWriters) stop() {
	if sw.encode != nil {
		close(sw.encode)
		sw.encode = nil
	}
	for i, ch := range sw.jobs {
		if ch != nil {
			close(ch)
			sw.jobs[i] = nil
		}
	}
	sw.done.Wait()
}
