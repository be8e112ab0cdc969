//go:build !arenadebug

package arena

// debugEnabled is false: allocations are not tracked.
const debugEnabled = false

// tracker is empty without the arenadebug tag.
type tracker struct{}

func (*tracker) alloc(*Arena, int) []byte { panic("arena: tracker used without arenadebug") }
func (*tracker) reset(*Arena)             {}

// debugState is the pool's leak bookkeeping; only the counter exists without arenadebug.
type debugState struct {
	count atomicInt64
}

// SetLeakHandler has no effect without the arenadebug build tag.
func (p *Pool) SetLeakHandler(func(Leak)) {}

// DebugEnabled reports whether the package was built with -tags arenadebug.
func DebugEnabled() bool { return false }
