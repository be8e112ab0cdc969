package audit

import "time"

// run is the consumer goroutine: it drains every shard, encodes the records into one
// batch, writes full batches to the sink, and parks when the rings are empty.
func (l *Log) run() {
	defer close(l.done)
	timer := time.NewTimer(l.cfg.PollInterval)
	defer timer.Stop()
	for {
		if l.drain() > 0 {
			continue
		}
		// Park. sleeping is set before the rings are checked again, and producers check
		// it after they queue: either this check sees the record or the producer sees
		// sleeping and sends a wake-up.
		l.sleeping.Store(true)
		if l.queued() {
			l.sleeping.Store(false)
			continue
		}
		timer.Reset(l.cfg.PollInterval)
		select {
		case <-l.wake:
		case <-timer.C:
		case <-l.quit:
			// Close holds every shard: nothing more can be queued. One last drain.
			l.sleeping.Store(false)
			l.drain()
			l.closeErr = l.cfg.Sink.Close()
			return
		}
		l.sleeping.Store(false)
	}
}

// drain takes everything queued in every shard, writing a batch to the sink whenever it
// reaches FlushBytes and once more at the end, and returns the number of records taken.
func (l *Log) drain() int {
	total, inBatch := 0, 0
	for _, p := range *l.producers.Load() {
		for {
			n := p.full.PopBatch(l.idx)
			if n == 0 {
				break
			}
			for _, i := range l.idx[:n] {
				s := &p.slots[i]
				l.batch = AppendJSON(l.batch, &s.rec)
				p.free.TryPush(i) // never full: it has room for every slot
			}
			total += n
			inBatch += n
			if len(l.batch) >= l.cfg.FlushBytes {
				l.flush(inBatch)
				inBatch = 0
			}
		}
	}
	if inBatch > 0 {
		l.flush(inBatch)
	}
	return total
}

// flush writes the batch of n records to the sink and empties it.
func (l *Log) flush(n int) {
	err := l.cfg.Sink.WriteBatch(l.batch)
	l.batch = l.batch[:0]
	if err == nil {
		l.written.Add(uint64(n))
		return
	}
	l.failed.Add(uint64(n))
	l.sinkErrors.Add(1)
	if l.cfg.Log != nil && time.Since(l.lastErrorLog) >= time.Second {
		l.lastErrorLog = time.Now()
		l.cfg.Log.Error("audit: records lost", "records", n, "err", err)
	}
}

// queued reports whether any shard has a record queued.
func (l *Log) queued() bool {
	for _, p := range *l.producers.Load() {
		if p.full.Len() > 0 {
			return true
		}
	}
	return false
}
