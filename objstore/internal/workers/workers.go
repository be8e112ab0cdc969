// Package workers runs jobs on reusable goroutines: a job goes to an idle worker if one
// waits, or to a new one, so that a job never waits for another (a stalled job holds its own
// goroutine) while a steady stream of jobs reuses the same few goroutines instead of
// starting one per job. Workers exit after an idle spell, so an idle pool holds none.
package workers

import "time"

// idleTime is how long a worker waits for another job before it exits.
const idleTime = 10 * time.Second

// Pool runs jobs of type J with its run function. The zero value is not usable: use New.
type Pool[J any] struct {
	// jobs is unbuffered: a send succeeds only when an idle worker receives it.
	jobs chan J
	run  func(J)
	// stop, when closed, ends the idle workers; nil: they end only when idle.
	stop <-chan struct{}
}

// New returns a pool whose workers call run for each job and end when idle for a while
// or, if stop is not nil, when it is closed.
func New[J any](run func(J), stop <-chan struct{}) *Pool[J] {
	return &Pool[J]{jobs: make(chan J), run: run, stop: stop}
}

// Go hands j to an idle worker, or starts one for it. It never waits.
func (p *Pool[J]) Go(j J) {
	select {
	case p.jobs <- j:
	default:
		go p.work(j)
	}
}

// work runs j, then the jobs it receives, until it has waited idleTime for one or stop
// is closed.
func (p *Pool[J]) work(j J) {
	idle := time.NewTimer(idleTime)
	defer idle.Stop()
	for {
		p.run(j)
		idle.Reset(idleTime)
		select {
		case j = <-p.jobs:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}
