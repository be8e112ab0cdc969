package erasureset

import (
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// workerIdle is how long a worker waits for another call before it exits.
const workerIdle = 10 * time.Second

// driveFunc is what a fanOut runs for each drive. It is an interface so that a caller's
// state that already lives on the heap can be the call itself, with no closure allocated.
type driveFunc interface {
	call(i int, d storage.Drive)
}

// fanFunc adapts a function to driveFunc.
type fanFunc func(i int, d storage.Drive)

func (f fanFunc) call(i int, d storage.Drive) { f(i, d) }

// driveCall is one drive's share of a fanOut: fn.call(i, d), then done.Done().
type driveCall struct {
	fn   driveFunc
	i    int
	d    storage.Drive
	done *sync.WaitGroup
}

// workers is a set's goroutines that run the per-drive calls of its fan-outs. A call goes
// to an idle worker if one waits, or to a new one, so that a call never waits for another
// (a drive that stalls holds its own worker, for as long as the drive's timeout lets it)
// and a fan-out inside a fan-out cannot deadlock, while a steady stream of operations
// reuses the same few goroutines instead of starting one per drive per operation.
type workers struct {
	// calls is unbuffered: a send succeeds only when an idle worker receives it.
	calls chan driveCall
}

func (w *workers) init() { w.calls = make(chan driveCall) }

// run hands c to an idle worker, or starts one for it.
func (w *workers) run(c driveCall) {
	select {
	case w.calls <- c:
	default:
		go w.work(c)
	}
}

// work runs c, then the calls it receives, until it has waited workerIdle for one.
func (w *workers) work(c driveCall) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.fn.call(c.i, c.d)
		c.done.Done()
		idle.Reset(workerIdle)
		select {
		case c = <-w.calls:
		case <-idle.C:
			return
		}
	}
}
