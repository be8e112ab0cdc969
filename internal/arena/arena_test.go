package arena

import (
	"bytes"
	"testing"
)

func TestAllocSizes(t *testing.T) {
	tests := []struct {
		name     string
		sizes    []int
		wantUsed int // blocks in use after the allocations (non-debug builds)
		oversize int64
	}{
		{"empty", nil, 0, 0},
		{"zero", []int{0}, 1, 0},
		{"small", []int{1, 10, 100}, 1, 0},
		{"exact block", []int{BlockSize}, 1, 0},
		{"spill", []int{BlockSize - 10, 11}, 2, 0},
		{"three blocks", []int{BlockSize, BlockSize, 1}, 3, 0},
		{"oversize", []int{BlockSize + 1}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(8)
			a := New(p)
			var got [][]byte
			for i, n := range tt.sizes {
				b := a.Alloc(n)
				if len(b) != n || cap(b) < n {
					t.Fatalf("Alloc(%d) len %d cap %d", n, len(b), cap(b))
				}
				for j := range b {
					if b[j] != 0 {
						t.Fatalf("Alloc(%d) not zeroed at %d", n, j)
					}
					b[j] = byte(i + 1)
				}
				got = append(got, b)
			}
			// No allocation overlaps another: each still holds its own fill byte.
			for i, b := range got {
				if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, len(b))) {
					t.Fatalf("allocation %d was overwritten", i)
				}
			}
			if !DebugEnabled() {
				if a.Blocks() != tt.wantUsed {
					t.Errorf("blocks = %d, want %d", a.Blocks(), tt.wantUsed)
				}
				if s := p.Stats(); s.Oversize != tt.oversize || s.InUse != int64(tt.wantUsed) {
					t.Errorf("stats = %+v, want oversize %d in use %d", s, tt.oversize, tt.wantUsed)
				}
			}
			a.Release()
			if s := p.Stats(); s.InUse != 0 {
				t.Errorf("after Release, in use = %d", s.InUse)
			}
		})
	}
}

func TestAllocCapIsClipped(t *testing.T) {
	a := New(NewPool(1))
	b := a.Alloc(4)
	c := a.Alloc(4)
	b = append(b, 9) // must reallocate, not overwrite c
	if c[0] != 0 || cap(b) == 5 && &b[0] == &c[0] {
		t.Fatalf("append to one allocation overwrote the next: c=%v", c)
	}
}

func TestResetReusesFirstBlock(t *testing.T) {
	if DebugEnabled() {
		t.Skip("arenadebug allocates every allocation separately")
	}
	p := NewPool(4)
	a := New(p)
	first := a.Alloc(16)
	a.Alloc(BlockSize) // forces a second block
	if a.Blocks() != 2 {
		t.Fatalf("blocks = %d, want 2", a.Blocks())
	}
	a.Reset()
	if a.Blocks() != 1 {
		t.Fatalf("after Reset blocks = %d, want 1", a.Blocks())
	}
	again := a.Alloc(16)
	if &again[0] != &first[0] {
		t.Fatal("Reset did not reuse the first block from its start")
	}
	if s := p.Stats(); s.InUse != 1 || s.Pooled != 1 {
		t.Fatalf("stats = %+v, want 1 in use and 1 pooled", s)
	}
}

func TestPoolBounded(t *testing.T) {
	tests := []struct {
		maxFree, put int
		wantPooled   int64
	}{
		{0, 3, 0},
		{2, 3, 2},
		{5, 3, 3},
		{-1, 1, 0},
	}
	for _, tt := range tests {
		p := NewPool(tt.maxFree)
		var bs [][]byte
		for range tt.put {
			bs = append(bs, p.Get())
		}
		for _, b := range bs {
			p.Put(b)
		}
		p.Put(make([]byte, 10)) // foreign sizes are ignored
		s := p.Stats()
		if s.Pooled != tt.wantPooled || s.InUse != 0 || s.Allocated != int64(tt.put) {
			t.Errorf("maxFree %d put %d: stats %+v, want pooled %d", tt.maxFree, tt.put, s, tt.wantPooled)
		}
	}
}

func TestCopy(t *testing.T) {
	a := New(NewPool(1))
	src := []byte("hello")
	c := a.Copy(src)
	src[0] = 'j'
	if string(c) != "hello" {
		t.Fatalf("Copy = %q", c)
	}
	if s := a.CopyString("world"); string(s) != "world" {
		t.Fatalf("CopyString = %q", s)
	}
}

func BenchmarkAllocReset(b *testing.B) {
	a := New(NewPool(4))
	b.ReportAllocs()
	for b.Loop() {
		for range 16 {
			a.AllocNoZero(64)
		}
		a.Reset()
	}
}
