package erasureset

import (
	"slices"
	"sync/atomic"
	"time"
)

// latencies tracks how fast each drive of a set answers, so that a read can leave a slow
// drive's data shard aside and read a parity shard in its place (erasure.SlowReaderAt):
// one slow node must not stall every read of the sets it has a drive in.
//
// Every metadata read (each object open asks every drive) and every shard read feeds it, so
// a drive marked slow is measured again at the next open and is read again as soon as it
// answers in time.
type latencies struct {
	// ewma[i] is drive i's smoothed call latency in nanoseconds (0: no sample yet).
	ewma []atomic.Int64
}

func newLatencies(n int) latencies { return latencies{ewma: make([]atomic.Int64, n)} }

// Slow-drive threshold: a drive is slow when its smoothed latency exceeds slowFactor times
// the set's median plus slowMargin. The margin keeps the ordinary jitter of fast local
// drives (tens of microseconds against tens) from marking one of them slow; the factor
// adapts the bound to the set (drives across a network are all slower than local ones).
const (
	slowFactor = 2
	slowMargin = 2 * time.Millisecond
)

// observe records a call of drive i that took d. The average weighs the newest sample a
// quarter, so a drive that turns slow (or recovers) is noticed within a few calls. Racing
// updates may lose a sample, which an average can afford.
func (l *latencies) observe(i int, d time.Duration) {
	if i < 0 || i >= len(l.ewma) {
		return
	}
	ns := max(int64(d), 1)
	old := l.ewma[i].Load()
	if old == 0 {
		l.ewma[i].Store(ns)
		return
	}
	l.ewma[i].Store(old + (ns-old)/4)
}

// slowMask returns the drives that answer late compared with the rest of the set, as a
// bit mask; 0 when fewer than two drives have been measured.
func (l *latencies) slowMask() uint32 {
	n := len(l.ewma)
	if n < 2 || n > 32 {
		return 0
	}
	var buf [32]int64
	vals := buf[:0]
	for i := range l.ewma {
		if v := l.ewma[i].Load(); v > 0 {
			vals = append(vals, v)
		}
	}
	if len(vals) < 2 {
		return 0
	}
	slices.Sort(vals)
	median := vals[(len(vals)-1)/2] // the lower median: with two drives, the faster one
	bound := slowFactor*median + int64(slowMargin)
	var mask uint32
	for i := range l.ewma {
		if l.ewma[i].Load() > bound {
			mask |= 1 << i
		}
	}
	return mask
}
