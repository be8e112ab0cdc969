// Package optiming carries per-operation timing from the object core back to its caller,
// for audit records: the time an operation waited for namespace locks.
package optiming

import (
	"context"
	"sync/atomic"
	"time"
)

// Timing accumulates what one operation spent waiting. Its methods are safe for concurrent
// use (a multi-object operation may take locks from several goroutines).
type Timing struct {
	lockWait atomic.Int64
}

// AddLockWait adds d to the lock wait.
func (t *Timing) AddLockWait(d time.Duration) { t.lockWait.Add(int64(d)) }

// LockWait returns the lock wait so far.
func (t *Timing) LockWait() time.Duration { return time.Duration(t.lockWait.Load()) }

// Reset zeroes the timing for the next operation.
func (t *Timing) Reset() { t.lockWait.Store(0) }

type key struct{}

// Context is a context.Context that carries a *Timing. A caller keeps one per request in its
// pooled request state, so attaching a Timing allocates nothing.
type Context struct {
	context.Context
	Timing *Timing
}

// Value implements context.Context.
func (c *Context) Value(k any) any {
	if k == (key{}) {
		return c.Timing
	}
	return c.Context.Value(k)
}

// From returns the Timing ctx carries, or nil.
func From(ctx context.Context) *Timing {
	t, _ := ctx.Value(key{}).(*Timing)
	return t
}
