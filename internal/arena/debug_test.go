//go:build arenadebug

package arena

import (
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestLeakReported proves that arenadebug reports an allocation still referenced at Reset,
// with its caller, and stays quiet for allocations that were dropped.
func TestLeakReported(t *testing.T) {
	p := NewPool(4)
	var mu sync.Mutex
	var leaks []Leak
	p.SetLeakHandler(func(l Leak) {
		mu.Lock()
		leaks = append(leaks, l)
		mu.Unlock()
	})
	a := New(p)
	kept := leakyAlloc(a)
	_ = a.Alloc(32) // dropped: must not be reported
	a.Reset()
	mu.Lock()
	defer mu.Unlock()
	if len(leaks) != 1 {
		t.Fatalf("got %d leaks %v, want exactly 1", len(leaks), leaks)
	}
	if leaks[0].Size != 17 || !strings.Contains(leaks[0].Caller, "leakyAlloc") {
		t.Fatalf("leak = %v, want 17 bytes from leakyAlloc", leaks[0])
	}
	if kept[0] != poison {
		t.Fatalf("leaked memory not poisoned: %x", kept[0])
	}
	runtime.KeepAlive(kept)
	if p.Stats().Leaks != 1 {
		t.Fatalf("Stats().Leaks = %d", p.Stats().Leaks)
	}
}

//go:noinline
func leakyAlloc(a *Arena) []byte { return a.Alloc(17) }

// TestTinyAllocationsNotFalseLeaks: small allocations must not share a runtime tiny block
// with unrelated live objects, or they would look referenced after Reset.
func TestTinyAllocationsNotFalseLeaks(t *testing.T) {
	p := NewPool(1)
	var leaks []Leak
	p.SetLeakHandler(func(l Leak) { leaks = append(leaks, l) })
	a := New(p)
	var live []*[3]byte
	for range 64 {
		a.Alloc(3)
		live = append(live, new([3]byte)) // tiny, pointer-free, kept alive
	}
	a.Reset()
	runtime.KeepAlive(live)
	if len(leaks) != 0 {
		t.Fatalf("%d false leaks, first %v", len(leaks), leaks[0])
	}
}
