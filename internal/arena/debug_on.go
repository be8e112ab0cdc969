//go:build arenadebug

package arena

import (
	"fmt"
	"log"
	"runtime"
	"sync"
	"weak"
)

// debugEnabled is true: every allocation is a separate heap object, tracked with its caller,
// so Reset can ask the garbage collector whether anything still references it.
const debugEnabled = true

// poison is written over released allocations so that use after Reset shows.
const poison = 0xDB

type tracked struct {
	buf    []byte
	caller string
}

// tracker holds the live allocations of one arena since its last Reset.
type tracker struct {
	live []tracked
}

func (t *tracker) alloc(a *Arena, n int) []byte {
	caller := "unknown"
	// Skip tracker.alloc, Arena.alloc and the exported Arena method.
	if pc, file, line, ok := runtime.Caller(3); ok {
		name := "?"
		if fn := runtime.FuncForPC(pc); fn != nil {
			name = fn.Name()
		}
		caller = fmt.Sprintf("%s (%s:%d)", name, file, line)
	}
	// At least one extra byte so that a zero-size allocation is still a distinct heap object,
	// and at least 16 bytes so that the runtime's tiny allocator does not pack it into a block
	// shared with unrelated objects, which would keep it reachable and report false leaks.
	b := make([]byte, n, max(n+1, 16))
	t.live = append(t.live, tracked{buf: b, caller: caller})
	return b
}

// reset poisons every live allocation, drops the arena's references, forces a collection
// and reports each allocation that survived it: something outside the arena still holds it.
func (t *tracker) reset(a *Arena) {
	if len(t.live) == 0 {
		return
	}
	type pending struct {
		wp     weak.Pointer[byte]
		caller string
		size   int
	}
	check := make([]pending, len(t.live))
	for i, tr := range t.live {
		b := tr.buf[:cap(tr.buf)]
		for j := range b {
			b[j] = poison
		}
		check[i] = pending{wp: weak.Make(&b[0]), caller: tr.caller, size: len(tr.buf)}
		t.live[i] = tracked{}
	}
	t.live = t.live[:0]
	runtime.GC()
	for _, p := range check {
		if p.wp.Value() != nil {
			a.pool.leaks.report(Leak{Caller: p.caller, Size: p.size})
		}
	}
}

// debugState is the pool's leak handler and leak counter.
type debugState struct {
	mu      sync.Mutex // guards handler
	handler func(Leak)
	count   atomicInt64
}

func (d *debugState) report(l Leak) {
	d.count.Add(1)
	d.mu.Lock()
	h := d.handler
	d.mu.Unlock()
	if h == nil {
		log.Print(l.String())
		return
	}
	h(l)
}

// SetLeakHandler sets the function called for every leak found by Reset (arenadebug builds
// only; the default logs it). It may be called concurrently with arena use.
func (p *Pool) SetLeakHandler(h func(Leak)) {
	p.leaks.mu.Lock()
	p.leaks.handler = h
	p.leaks.mu.Unlock()
}

// DebugEnabled reports whether the package was built with -tags arenadebug.
func DebugEnabled() bool { return true }
