package owner

import (
	"testing"
	"time"
)

// An owner grants only while its lease was acknowledged less than half a TTL ago: a
// process resumed after a pause longer than that (SIGSTOP, a long GC pause) grants nothing
// before it hears from etcd again, even though its session has not noticed yet. A lease the
// node knows it lost never becomes trusted again.
func TestTermLiveness(t *testing.T) {
	l := &lease{ttl: 10 * time.Second}
	tm := &term{lease: l, ended: make(chan struct{})}
	l.acked(time.Now())
	if !tm.live() {
		t.Fatal("a term whose lease was just acknowledged is not live")
	}
	l.acked(time.Now().Add(-6 * time.Second)) // the last acknowledgement before a pause
	if tm.live() {
		t.Fatal("a term whose lease was last acknowledged 6s ago (TTL 10s) still grants")
	}
	l.acked(time.Now())
	if !tm.live() {
		t.Fatal("a fresh acknowledgement did not make the term live again")
	}
	l.distrust()
	l.acked(time.Now())
	if tm.live() {
		t.Fatal("a lease known lost became trusted again")
	}
	l2 := &lease{ttl: 10 * time.Second}
	l2.acked(time.Now())
	tm2 := &term{lease: l2, ended: make(chan struct{})}
	close(tm2.ended)
	if tm2.live() {
		t.Fatal("an ended term still grants")
	}
}
