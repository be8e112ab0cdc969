// Package optiming carries the per-operation timing that the object core reports to its
// caller, for audit records: how long an operation spent waiting, as opposed to working.
//
// A caller that wants the figures attaches a Timing to the operation's context with a
// Context; the core adds to it where it waits (namespace locks so far), and how long it
// held a write lock that others may have waited on. A caller that attaches none pays
// nothing: the core reads no clock for it.
package optiming

import (
	"context"
	"sync/atomic"
	"time"
)

// Timing accumulates the waits of one operation. Its methods are safe for concurrent use,
// since an operation may wait in several goroutines at once. The zero value is ready to use.
type Timing struct {
	// lockWait is the total time, in nanoseconds, spent waiting for namespace locks.
	lockWait atomic.Int64
	// lockHeld is the total time, in nanoseconds, namespace write locks were held.
	lockHeld atomic.Int64
}

// AddLockWait adds d to the time spent waiting for namespace locks.
func (t *Timing) AddLockWait(d time.Duration) { t.lockWait.Add(int64(d)) }

// LockWait returns the total time spent waiting for namespace locks since the last Reset.
func (t *Timing) LockWait() time.Duration { return time.Duration(t.lockWait.Load()) }

// AddLockHeld adds d to the time namespace write locks were held.
func (t *Timing) AddLockHeld(d time.Duration) { t.lockHeld.Add(int64(d)) }

// LockHeld returns the total time namespace write locks were held since the last Reset:
// what a write made other operations of its keys wait for, at most.
func (t *Timing) LockHeld() time.Duration { return time.Duration(t.lockHeld.Load()) }

// Reset zeroes every figure, so that a pooled Timing can serve the next operation.
func (t *Timing) Reset() {
	t.lockWait.Store(0)
	t.lockHeld.Store(0)
}

// Context is a context.Context that carries a *Timing; a caller keeps one per request
// in its pooled request state, so attaching a Timing allocates nothing. Contexts derived
// from it carry the same Timing; deadlines, cancellation and other values are those of the
// embedded Context.
type Context struct {
	context.Context
	Timing *Timing
}

// timingKey is the context key under which a Context answers with its Timing.
type timingKey struct{}

// Value answers the package's unexported key with c.Timing and any other key as the
// embedded Context does.
func (c *Context) Value(key any) any {
	if _, ok := key.(timingKey); ok {
		return c.Timing
	}
	return c.Context.Value(key)
}

// From returns the Timing that ctx carries, or nil when it carries none.
func From(ctx context.Context) *Timing {
	t, _ := ctx.Value(timingKey{}).(*Timing)
	return t
}
