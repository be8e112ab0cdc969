package erasureset

import (
	"sync"

	"github.com/flashstor/flashstor/objstore/storage"
)

// driveFunc is what a fanOut runs for each drive. It is an interface so that a caller's
// state that already lives on the heap can be the call itself, with no closure allocated.
type driveFunc interface {
	call(i int, d storage.Drive)
}

// fanFunc adapts a function to driveFunc.
type fanFunc func(i int, d storage.Drive)

func (f fanFunc) call(i int, d storage.Drive) { f(i, d) }

// driveCall is one drive's share of a fanOut: fn.call(i, d), then done.Done().
type driveCall struct {
	fn   driveFunc
	i    int
	d    storage.Drive
	done *sync.WaitGroup
}

// runDriveCall runs one drive's share of a fanOut on one of the set's workers.
func runDriveCall(c driveCall) {
	c.fn.call(c.i, c.d)
	c.done.Done()
}
