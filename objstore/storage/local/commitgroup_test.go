package local

import (
	"testing"
	"time"
)

// waitDone runs waitEarlier(upto, bound) in the background and returns a channel closed
// when it returns.
func waitDone(g *commitGroup, upto uint64, bound time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		g.waitEarlier(upto, bound)
		close(done)
	}()
	return done
}

// A write waits for the writes that began before it to rename, not for later ones, and
// never longer than its bound.
func TestCommitGroupWaitsForEarlierWrites(t *testing.T) {
	g := NewCommitGroups().group(1)
	early := g.begin()
	mine := g.begin()
	upto := g.renamed(mine)
	late := g.begin() // begun after mine renamed: not waited for
	done := waitDone(g, upto, time.Hour)
	select {
	case <-done:
		t.Fatal("returned while a write begun before it had not renamed")
	case <-time.After(50 * time.Millisecond):
	}
	g.renamed(early)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting 10 s after the earlier write renamed (a later one is staging)")
	}

	// A write that never renames holds the others for the bound only.
	done = waitDone(g, g.renamed(g.begin()), time.Millisecond)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a wait bounded to 1 ms still waits after 10 s")
	}
	g.renamed(late)
	if len(g.staging) != 0 {
		t.Fatalf("%d writes left staging", len(g.staging))
	}
}

// Drives on different file systems do not share a group; on the same one they do.
func TestCommitGroupsByFileSystem(t *testing.T) {
	c := NewCommitGroups()
	a, again, other := c.group(1), c.group(1), c.group(2)
	if a != again || a == other {
		t.Fatal("groups are not one per device")
	}
}
