package lincheck

import (
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects a history. Clients call Call just before they send an operation and
// End (or Ambiguous) once they know its outcome; it is safe for concurrent use.
//
// Timestamps are nanoseconds since the recorder was made, from the monotonic clock, and
// strictly increasing across all calls: an operation that ended before another was called
// has the smaller time, which is all that linearizability asks of real time.
type Recorder struct {
	start time.Time

	mu sync.Mutex
	// last is the latest timestamp handed out. GUARDED_BY(mu).
	last int64
	// ops are the operations recorded, in call order; an op still in flight has Return
	// pending, a dropped one dropped. GUARDED_BY(mu).
	ops []porcupine.Operation
}

// pending marks the Return of an operation in flight; dropped that of an operation taken
// out of the history.
const (
	pending = -1
	dropped = -2
)

// NewRecorder returns an empty history whose clock starts now.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now()}
}

// Op is an operation in flight.
type Op struct {
	r *Recorder
	i int
}

// now returns the next timestamp. The caller holds r.mu.
func (r *Recorder) now() int64 {
	t := int64(time.Since(r.start))
	if t <= r.last {
		t = r.last + 1
	}
	r.last = t
	return t
}

// Call records that client (numbered from 0) is about to make the operation in.
func (r *Recorder) Call(client int, in Input) Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: r.now(), Return: pending})
	return Op{r: r, i: len(r.ops) - 1}
}

// End records the operation's outcome.
func (o Op) End(out Output) {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	o.r.ops[o.i].Output = out
	o.r.ops[o.i].Return = o.r.now()
}

// Ambiguous records that the operation's outcome is unknown: it may take effect at any
// time after its call, or never, so it has no return time (it stays open to the end of
// the history).
func (o Op) Ambiguous() {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	o.r.ops[o.i].Output = Output{Status: Unknown}
	o.r.ops[o.i].Return = math.MaxInt64
}

// Drop takes the operation out of the history: a read that failed changed nothing and
// told nothing.
func (o Op) Drop() {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	o.r.ops[o.i].Return = dropped
}

// Operations returns the history so far. An operation still in flight is ambiguous.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := make([]porcupine.Operation, 0, len(r.ops))
	for _, op := range r.ops {
		switch op.Return {
		case dropped:
			continue
		case pending:
			op.Output, op.Return = Output{Status: Unknown}, math.MaxInt64
		}
		ops = append(ops, op)
	}
	return ops
}
