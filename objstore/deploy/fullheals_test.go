package deploy

import (
	"fmt"
	"sync"
	"testing"
)

// TestFullHealsCoalesce: heals asked for while one of the same set runs make one more run,
// deep if any was; another set's heal does not wait.
func TestFullHealsCoalesce(t *testing.T) {
	release := make(chan struct{})
	started := make(chan int, 8)
	var mu sync.Mutex
	var runs []string
	h := &fullHeals{running: make(map[int]*healRequest), run: func(si int, deep bool, why string) {
		mu.Lock()
		runs = append(runs, fmt.Sprintf("%d %v %s", si, deep, why))
		mu.Unlock()
		started <- si
		if si == 0 {
			<-release
		}
	}}
	h.start(0, false, "a")
	<-started
	h.start(0, true, "b")
	h.start(0, false, "c")
	h.start(1, false, "other set")
	if si := <-started; si != 1 {
		t.Fatalf("set %d started while set 0's heal ran; want set 1", si)
	}
	close(release)
	h.wg.Wait()
	want := []string{"0 false a", "1 false other set", "0 true c"}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("runs %q, want %q", runs, want)
	}
}
