package workers

import (
	"testing"
	"time"
)

// A job that blocks never holds up the next one: the next goes to a new worker.
func TestStalledJobDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	done := make(chan int, 2)
	p := New(func(j int) {
		if j == 1 {
			<-release
		}
		done <- j
	}, nil)
	p.Go(1)
	p.Go(2)
	select {
	case j := <-done:
		if j != 2 {
			t.Fatalf("job %d finished first, want 2", j)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job 2 waited behind the stalled job 1")
	}
}

// Jobs run one after the other reuse a worker, and every one runs.
func TestJobsRun(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	done := make(chan int)
	p := New(func(j int) { done <- j }, stop)
	for i := range 100 {
		p.Go(i)
		if got := <-done; got != i {
			t.Fatalf("ran job %d, want %d", got, i)
		}
	}
}
