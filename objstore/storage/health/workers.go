package health

import "time"

// workerIdle is how long a worker waits for another call before it exits.
const workerIdle = 10 * time.Second

// job is what a worker runs: one bounded call.
type job interface{ run() }

// workers is a drive's set of goroutines that run bounded calls. A call goes to an idle
// worker if one waits, or to a new one, so that a stalled call never holds up another (each
// stalled call holds its own worker) while a steady stream of calls reuses the same few
// goroutines instead of starting one per call.
type workers struct {
	// jobs is unbuffered: a send succeeds only when an idle worker receives it.
	jobs chan job
	// stop, closed, ends the idle workers.
	stop <-chan struct{}
}

// run hands j to an idle worker, or starts one for it.
func (w *workers) run(j job) {
	select {
	case w.jobs <- j:
	default:
		go w.work(j)
	}
}

// work runs j, then the jobs it receives, until it has waited workerIdle for one or the
// drive is closed.
func (w *workers) work(j job) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		j.run()
		idle.Reset(workerIdle)
		select {
		case j = <-w.jobs:
		case <-idle.C:
			return
		case <-w.stop:
			return
		}
	}
}
