package diskbench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// TestWrite checks that both ways leave every drive's file with exactly the shard bytes,
// for sizes on and off the O_DIRECT alignment, written over an earlier file.
func TestWrite(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	seed := []byte("0123456789abcdef-")
	for _, size := range []int{0, 1, 4096, 524304, 2<<20 + 17} {
		s := NewShards(seed, size)
		want := bytes.Repeat(seed, size/len(seed)+1)[:size]
		for _, direct := range []bool{false, true} {
			if err := s.Write(dirs, "f", direct); err != nil {
				t.Fatalf("size %d direct %v: %v", size, direct, err)
			}
			for _, d := range dirs {
				got, err := os.ReadFile(d + "/f")
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("size %d direct %v: %s holds %d bytes (want %d), %v", size, direct, d, len(got), size, err)
				}
			}
		}
	}
	if err := NewShards(seed, 10).Write([]string{fmt.Sprint(t.TempDir(), "/missing")}, "f", false); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
}

// TestPhases checks that a phase runs every client once and reports a client's error.
func TestPhases(t *testing.T) {
	p := NewPhases(3)
	var seen [3]atomic.Int32
	if err := p.Run("a", func(c int) error { seen[c].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for c := range seen {
		if n := seen[c].Load(); n != 1 {
			t.Errorf("client %d ran %d times", c, n)
		}
	}
	bad := errors.New("bad")
	if err := p.Run("b", func(c int) error {
		if c == 2 {
			return bad
		}
		return nil
	}); !errors.Is(err, bad) {
		t.Errorf("Run = %v, want %v", err, bad)
	}
	if p.MBps("a", 1<<20, 1) <= 0 {
		t.Error("no throughput for a phase that ran")
	}
}
