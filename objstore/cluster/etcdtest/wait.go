package etcdtest

import (
	"testing"
	"time"
)

// Eventually polls cond every 10 ms, at most 1000 times (10 s), and fails t with what
// when it never holds: the wait of a test for a change to reach another node through a
// watch, bounded in count and time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not seen within 10s: %s", what)
}
