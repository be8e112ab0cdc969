package md5lanes

import (
	"crypto/md5"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// write feeds body to h in writes of varying sizes (the lanes buffer partial blocks).
func write(h *Hash, body []byte, rng *rand.Rand) {
	for len(body) > 0 {
		n := min(len(body), 1+rng.IntN(200<<10))
		if rng.IntN(4) == 0 {
			n = min(len(body), 1+rng.IntN(130))
		}
		h.Write(body[:n])
		body = body[n:]
	}
}

// TestDigestsMatch hashes bodies of awkward sizes, many at once, in lanes and with
// crypto/md5, and compares every sum with crypto/md5's of the same bytes.
func TestDigestsMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 4095, 32<<10 - 1, 32 << 10, 32<<10 + 1, 1<<20 + 7, 5<<20 + 3}
	bodies := make([][]byte, len(sizes))
	for i, n := range sizes {
		bodies[i] = make([]byte, n)
		for j := range bodies[i] {
			bodies[i][j] = byte(rng.Uint32())
		}
	}
	for _, threshold := range []int{0, 1, 4} {
		src := New(threshold)
		var wg, ready sync.WaitGroup
		var mu sync.Mutex
		var inLane int
		// Every hash is handed out before any is written to, so that the count reaches
		// the threshold and the lanes and crypto/md5 hash side by side.
		start := make(chan struct{})
		for round := range 3 {
			for i, body := range bodies {
				ready.Add(1)
				wg.Go(func() {
					h := src.Hash()
					defer h.Close()
					ready.Done()
					<-start
					write(h, body, rand.New(rand.NewPCG(uint64(round), uint64(i))))
					if got, want := h.Sum(nil), md5.Sum(body); string(got) != string(want[:]) {
						t.Errorf("threshold %d, %d bytes: sum %x, want %x", threshold, len(body), got, want)
					}
					if h.InLane() {
						mu.Lock()
						inLane++
						mu.Unlock()
					}
				})
			}
		}
		ready.Wait()
		close(start)
		wg.Wait()
		src.Close()
		if threshold == 0 && inLane != 0 {
			t.Errorf("threshold 0 put %d hashes in lanes", inLane)
		}
		// Every hash was counted before the first chose: all take lanes.
		if threshold > 0 && inLane != 3*len(bodies) {
			t.Errorf("threshold %d: %d of %d hashes in lanes, want all", threshold, inLane, 3*len(bodies))
		}
		t.Logf("threshold %d: %d of %d hashes in lanes", threshold, inLane, 3*len(bodies))
	}
}

// TestLanesFollowRecentPeak checks the choice: lanes from the threshold on, and for new
// hashes while a peak that reached it is at most a window old.
func TestLanesFollowRecentPeak(t *testing.T) {
	now := time.Unix(1000, 0)
	src := New(3)
	src.now = func() time.Time { return now }
	defer src.Close()
	a := src.Hash()
	if a.Choose() {
		t.Fatal("a hash alone took a lane below the threshold of 3")
	}
	b := src.Hash()
	if b.Choose() {
		t.Fatal("the second hash took a lane below the threshold of 3")
	}
	c := src.Hash()
	if !c.Choose() {
		t.Fatal("the third concurrent hash did not take a lane")
	}
	if a.InLane() {
		t.Fatal("a hash changed its choice")
	}
	a.Close()
	b.Close()
	c.Close()
	if h := src.Hash(); !h.Choose() {
		t.Error("a hash alone right after a peak of 3 did not take a lane")
	} else {
		h.Close()
	}
	now = now.Add(window + time.Millisecond)
	if h := src.Hash(); !h.Choose() {
		t.Error("a hash one window after the peak did not take a lane")
	} else {
		h.Close()
	}
	now = now.Add(2 * window)
	if h := src.Hash(); h.Choose() {
		t.Error("a hash alone two windows after the peak took a lane")
	} else {
		h.Close()
	}
	// A burst: three hashes handed out at once choose after all were counted.
	now = now.Add(3 * window)
	burst := []*Hash{src.Hash(), src.Hash(), src.Hash()}
	for i, h := range burst {
		if !h.Choose() {
			t.Errorf("hash %d of a burst of 3 did not take a lane", i)
		}
	}
	for _, h := range burst {
		h.Close()
	}
	if src.active != 0 {
		t.Errorf("%d hashes counted after all were closed", src.active)
	}
}

// TestCloseWaitsForLanes closes the source while a hash runs in a lane: the hash must still
// end right, and the server stop once it is closed; later hashes use crypto/md5.
func TestCloseWaitsForLanes(t *testing.T) {
	src := New(1)
	h := src.Hash()
	if !h.Choose() {
		t.Fatal("no lane at threshold 1")
	}
	body := make([]byte, 3<<20+5)
	for i := range body {
		body[i] = byte(i * 31)
	}
	h.Write(body[:1<<20])
	src.Close()
	h.Write(body[1<<20:])
	if got, want := h.Sum(nil), md5.Sum(body); string(got) != string(want[:]) {
		t.Fatalf("sum across Close %x, want %x", got, want)
	}
	src.mu.Lock()
	running := src.server != nil
	src.mu.Unlock()
	if !running {
		t.Fatal("the server stopped under a hash still in its lane")
	}
	h.Close()
	h.Close() // twice is allowed
	src.mu.Lock()
	running = src.server != nil
	src.mu.Unlock()
	if running {
		t.Error("the server still runs after Close and its last lane closed")
	}
	if later := src.Hash(); later.Choose() {
		t.Error("a hash after Close took a lane")
	} else {
		later.Close()
	}
}

// TestNilSource: a nil source hands out crypto/md5 hashes.
func TestNilSource(t *testing.T) {
	var src *Source
	h := src.Hash()
	defer h.Close()
	h.Write([]byte("abc"))
	if got, want := h.Sum(nil), md5.Sum([]byte("abc")); string(got) != string(want[:]) || h.Choose() {
		t.Fatalf("sum %x in lane %v, want %x with crypto/md5", got, h.InLane(), want)
	}
}
