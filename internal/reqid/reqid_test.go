package reqid

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// unmix inverts mix, step by step; that it exists proves mix is a bijection, hence that
// distinct counter values give distinct ids.
func unmix(x uint64) uint64 {
	x = unxorshift(x, 31)
	x *= inverse(0x94D049BB133111EB)
	x = unxorshift(x, 27)
	x *= inverse(0xBF58476D1CE4E5B9)
	return unxorshift(x, 30)
}

// unxorshift inverts x ^= x >> s.
func unxorshift(x uint64, s uint) uint64 {
	y := x
	for i := 0; i < 64/int(s)+1; i++ {
		y = x ^ y>>s
	}
	return y
}

// inverse returns the multiplicative inverse of an odd a modulo 2^64 (Newton's method).
func inverse(a uint64) uint64 {
	x := a
	for i := 0; i < 6; i++ {
		x *= 2 - a*x
	}
	return x
}

func TestMixIsInvertible(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, x := range []uint64{0, 1, 2, 1 << 63, ^uint64(0)} {
		if got := unmix(mix(x)); got != x {
			t.Fatalf("unmix(mix(%#x)) = %#x", x, got)
		}
	}
	for i := 0; i < 100000; i++ {
		x := r.Uint64()
		if got := unmix(mix(x)); got != x {
			t.Fatalf("unmix(mix(%#x)) = %#x", x, got)
		}
	}
}

func TestFormat(t *testing.T) {
	g, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		id := g.Next()
		for _, c := range id {
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
				t.Fatalf("id %q has a byte that is not an upper-case hex digit", id)
			}
		}
		if id.String() != string(id[:]) || id.View() != id.String() {
			t.Fatalf("String %q, View %q of %q", id.String(), id.View(), id[:])
		}
	}
}

// TestUniqueConcurrent takes ids from many goroutines and checks that none repeats.
func TestUniqueConcurrent(t *testing.T) {
	g, err := New()
	if err != nil {
		t.Fatal(err)
	}
	const workers, per = 8, 25000
	ids := make([][]ID, workers)
	var wg sync.WaitGroup
	for w := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ids[w] = append(ids[w], g.Next())
			}
		}()
	}
	wg.Wait()
	seen := make(map[ID]bool, workers*per)
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("id %s repeated", id)
			}
			seen[id] = true
		}
	}
	// Consecutive ids must not betray the count: they differ in many digits.
	a, b := g.Next(), g.Next()
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 8 {
		t.Fatalf("consecutive ids %s and %s share %d of 16 digits", a, b, same)
	}
}

func TestGeneratorsDiffer(t *testing.T) {
	g1, _ := New()
	g2, _ := New()
	if g1.Next() == g2.Next() {
		t.Fatal("two generators started at the same point")
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	g, _ := New()
	var sink ID
	if n := testing.AllocsPerRun(1000, func() { sink = g.Next(); _ = sink.View() }); n != 0 {
		t.Fatalf("Next allocates %v times", n)
	}
}

func BenchmarkNext(b *testing.B) {
	g, _ := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = g.Next()
		}
	})
}
