package asynchash

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"testing"
)

// TestWriterGivesTheSinkEveryByte checks that the hash fed from the goroutine is MD5 of
// the bytes written, whatever the body's size around the chunk boundaries and the inline
// count, however it is cut into writes, and that the caller may reuse a written buffer at
// once.
func TestWriterGivesTheSinkEveryByte(t *testing.T) {
	const inline = 128<<10 + 1
	sizes := []int{0, 1, Chunk - 1, Chunk, Chunk + 1, Chunks * Chunk,
		(Chunks+1)*Chunk + 7, inline - 1, inline, inline + 1,
		inline + (Chunks+2)*Chunk + 3, 3*inline + 5}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range sizes {
		for _, maxWrite := range []int{1 << 20, 4096, 100_001} {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			h := md5.New()
			a := New(h, inline)
			scratch := make([]byte, maxWrite)
			for off := 0; off < size; {
				n := min(1+rng.IntN(maxWrite), size-off)
				copy(scratch, body[off:off+n])
				if m, err := a.Write(scratch[:n]); m != n || err != nil {
					t.Fatalf("size %d: Write = %d, %v", size, m, err)
				}
				clear(scratch) // the caller reuses its buffer
				a.Write(nil)   // as the codec's probe for EOF does, at any point
				off += n
			}
			a.Flush()
			want := md5.Sum(body)
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Errorf("size %d, writes up to %d: sum %x, want %x", size, maxWrite, got, want)
			}
			a.Close() // after Flush: nothing to do, must not block or panic
		}
	}
}

// TestWriterClose checks that a Writer given up before its Flush stops its goroutine.
func TestWriterClose(t *testing.T) {
	for _, size := range []int{10, 3*Chunk + 1, 20 * Chunk} {
		a := New(md5.New(), 0)
		a.Write(make([]byte, size))
		a.Close()
		if a.Running() {
			t.Errorf("size %d: the goroutine still runs after Close", size)
		}
		a.Close()
	}
}

// TestWriterInlineOnly checks that writes that all fit in the inline count take no chunk
// and start no goroutine, and still reach the sink.
func TestWriterInlineOnly(t *testing.T) {
	h := md5.New()
	a := New(h, 1000)
	a.Write([]byte("abc"))
	a.Write(make([]byte, 997))
	if a.cur != nil || a.Running() {
		t.Fatal("inline writes took a chunk or started the goroutine")
	}
	a.Flush()
	want := md5.Sum(append([]byte("abc"), make([]byte, 997)...))
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Errorf("sum %x, want %x", got, want)
	}
}
