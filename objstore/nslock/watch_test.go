package nslock

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestWatch checks what a watch records: write acquisitions below its prefix from its
// start, busy while held or awaited; names held at its start (for reading too), busy until
// their last holder leaves; not read acquisitions, other prefixes, nor anything after Stop.
func TestWatch(t *testing.T) {
	c := context.Background()
	var m Map
	heldBefore, err := m.RLock(c, "b/held")
	if err != nil {
		t.Fatal(err)
	}
	w := m.Watch("b/")
	state := func(name string, wantChanges uint64, wantBusy bool) {
		t.Helper()
		if n, busy := w.State(name); n != wantChanges || busy != wantBusy {
			t.Fatalf("State(%q) = %d, %v; want %d, %v", name, n, busy, wantChanges, wantBusy)
		}
	}
	state("b/held", 1, true)
	heldBefore()
	state("b/held", 2, false)

	unlock, err := m.Lock(c, "b/k", "other/k")
	if err != nil {
		t.Fatal(err)
	}
	state("b/k", 1, true)
	unlock()
	state("b/k", 1, false)
	runlock, err := m.RLock(c, "b/read")
	if err != nil {
		t.Fatal(err)
	}
	runlock()
	state("b/read", 0, false)

	// A write acquisition given up while waiting is busy only while it waits.
	hold, err := m.Lock(c, "b/wait")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(c, time.Millisecond)
	defer cancel()
	if _, err := m.Lock(ctx, "b/wait"); err == nil {
		t.Fatal("a write lock was granted twice")
	}
	state("b/wait", 2, true) // still held by the first
	hold()
	state("b/wait", 2, false)

	// b/held's last release; b/k's acquisition and release; b/wait's two acquisitions and
	// two releases (one given up).
	if n := w.Events(); n != 7 {
		t.Fatalf("Events() = %d, want 7", n)
	}
	names := w.Names()
	slices.Sort(names)
	if want := []string{"b/held", "b/k", "b/wait"}; !slices.Equal(names, want) {
		t.Fatalf("Names() = %q, want %q", names, want)
	}
	w.Stop()
	unlock, err = m.Lock(c, "b/after")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	state("b/after", 0, false)
	if m.Len() != 0 {
		t.Fatalf("%d names left in the map", m.Len())
	}
}
