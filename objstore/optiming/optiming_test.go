package optiming

import (
	"context"
	"sync"
	"testing"
	"time"
)

type otherKey struct{}

func TestFrom(t *testing.T) {
	var timing Timing
	parent := context.WithValue(context.Background(), otherKey{}, "v")
	ctx := &Context{Context: parent, Timing: &timing}
	derived, cancel := context.WithCancel(ctx)
	defer cancel()

	tests := []struct {
		name string
		ctx  context.Context
		want *Timing
	}{
		{"background", context.Background(), nil},
		{"plain value context", parent, nil},
		{"Context", ctx, &timing},
		{"derived from Context", derived, &timing},
		{"Context without Timing", &Context{Context: parent}, nil},
	}
	for _, tt := range tests {
		if got := From(tt.ctx); got != tt.want {
			t.Errorf("%s: From = %p, want %p", tt.name, got, tt.want)
		}
	}
	if v := derived.Value(otherKey{}); v != "v" {
		t.Errorf("a Context hides its parent's values: got %v", v)
	}
}

func TestContextCancellation(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx := &Context{Context: parent, Timing: new(Timing)}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the parent did not reach a context derived from a Context")
	}
}

func TestTimingConcurrentAdds(t *testing.T) {
	var timing Timing
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				timing.AddLockWait(time.Microsecond)
			}
		})
	}
	wg.Wait()
	if got, want := timing.LockWait(), 8000*time.Microsecond; got != want {
		t.Fatalf("LockWait = %v, want %v", got, want)
	}
	timing.Reset()
	if got := timing.LockWait(); got != 0 {
		t.Fatalf("LockWait after Reset = %v, want 0", got)
	}
}

func TestAttachAllocatesNothing(t *testing.T) {
	var timing Timing
	var ctx Context
	allocs := testing.AllocsPerRun(100, func() {
		ctx = Context{Context: context.Background(), Timing: &timing}
		if From(&ctx) != &timing {
			t.Fatal("From lost the Timing")
		}
		timing.Reset()
	})
	if allocs != 0 {
		t.Fatalf("attaching and finding a Timing allocates %v times, want 0", allocs)
	}
}
