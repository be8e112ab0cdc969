package storage

import (
	"testing"
	"time"
)

// A batch waits for every drive of a domain, arrived or left; other domains and nil ids are
// not waited for; a missing drive holds the others only for the bound.
func TestCommitBatch(t *testing.T) {
	var b CommitBatch
	a, c := new(int), new(int) // two domains
	b.Expect(nil)
	b.Expect(a)
	if b.Shared() {
		t.Fatal("Shared with one drive per domain")
	}
	b.Expect(a)
	b.Expect(a)
	b.Expect(c)
	if !b.Shared() {
		t.Fatal("not Shared with three drives of one domain")
	}
	b.Arrive(c, time.Hour) // alone in its domain: no wait
	b.Arrive(nil, time.Hour)

	done := make(chan struct{})
	go func() {
		b.Arrive(a, time.Hour)
		close(done)
	}()
	b.Leave(a) // a drive that failed
	select {
	case <-done:
		t.Fatal("Arrive returned with one of its domain's three drives still to come")
	case <-time.After(20 * time.Millisecond):
	}
	b.Arrive(a, time.Hour) // the last: returns at once and releases the first
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Arrive still waits after every drive of its domain came")
	}

	var lone CommitBatch
	lone.Expect(a)
	lone.Expect(a)
	start := time.Now()
	lone.Arrive(a, 20*time.Millisecond) // the other never comes
	if time.Since(start) > 10*time.Second {
		t.Fatal("Arrive waited past its bound")
	}
}
