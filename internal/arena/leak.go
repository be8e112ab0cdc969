package arena

import (
	"fmt"
	"sync/atomic"
)

// atomicInt64 names the counter type shared by both build variants.
type atomicInt64 = atomic.Int64

// Leak describes an arena allocation that was still referenced when its arena was reset:
// some code kept a view past the lifetime of its request.
type Leak struct {
	Caller string // function, file and line that made the allocation
	Size   int    // bytes requested
}

func (l Leak) String() string {
	return fmt.Sprintf("arena leak: %d bytes allocated at %s still referenced after Reset", l.Size, l.Caller)
}
