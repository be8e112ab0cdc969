package spsc

import (
	"testing"
)

func TestNewRoundsUpToPowerOfTwo(t *testing.T) {
	tests := []struct{ in, want int }{{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {MaxCapacity, MaxCapacity}}
	for _, tt := range tests {
		if got := New[byte](tt.in).Cap(); got != tt.want {
			t.Errorf("New(%d).Cap() = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestNewPanicsOnBadCapacity(t *testing.T) {
	for _, c := range []int{0, -1, MaxCapacity + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d) did not panic", c)
				}
			}()
			New[int](c)
		}()
	}
}

// TestSequential checks the FIFO contract against a slice model over many wrap-arounds,
// with every mix of single pops and batches.
func TestSequential(t *testing.T) {
	for _, capacity := range []int{1, 2, 8} {
		r := New[int](capacity)
		var model []int
		next := 0
		dst := make([]int, 5)
		for step := 0; step < 2000; step++ {
			switch op := (step*7 + step/3) % 4; op {
			case 0, 1: // push
				ok := r.TryPush(next)
				if wantOK := len(model) < r.Cap(); ok != wantOK {
					t.Fatalf("cap %d step %d: TryPush = %v with %d queued", capacity, step, ok, len(model))
				}
				if ok {
					model = append(model, next)
				}
				next++
			case 2:
				v, ok := r.TryPop()
				if ok != (len(model) > 0) {
					t.Fatalf("cap %d step %d: TryPop ok = %v with %d queued", capacity, step, ok, len(model))
				}
				if ok {
					if v != model[0] {
						t.Fatalf("cap %d step %d: TryPop = %d, want %d", capacity, step, v, model[0])
					}
					model = model[1:]
				}
			case 3:
				n := r.PopBatch(dst[:step%len(dst)+1])
				if want := min(len(model), step%len(dst)+1); n != want {
					t.Fatalf("cap %d step %d: PopBatch = %d, want %d", capacity, step, n, want)
				}
				for i := 0; i < n; i++ {
					if dst[i] != model[i] {
						t.Fatalf("cap %d step %d: PopBatch[%d] = %d, want %d", capacity, step, i, dst[i], model[i])
					}
				}
				model = model[n:]
			}
			if r.Len() != len(model) {
				t.Fatalf("cap %d step %d: Len = %d, want %d", capacity, step, r.Len(), len(model))
			}
		}
	}
}

// TestPopClearsSlots checks that popped slots no longer reference the popped values, so
// a ring of pointers does not keep garbage alive.
func TestPopClearsSlots(t *testing.T) {
	r := New[*int](4)
	for i := 0; i < 3; i++ {
		v := i
		r.TryPush(&v)
	}
	r.TryPop()
	r.PopBatch(make([]*int, 2))
	for i, p := range r.buf {
		if p != nil {
			t.Errorf("slot %d still holds a pointer after its item was popped", i)
		}
	}
}

func TestPopBatchEmptyDst(t *testing.T) {
	r := New[int](2)
	r.TryPush(1)
	if n := r.PopBatch(nil); n != 0 {
		t.Fatalf("PopBatch(nil) = %d", n)
	}
	if v, ok := r.TryPop(); !ok || v != 1 {
		t.Fatalf("TryPop after empty batch = %d, %v", v, ok)
	}
}
