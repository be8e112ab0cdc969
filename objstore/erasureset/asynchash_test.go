package erasureset

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"testing"
)

// TestAsyncHash checks that the hash computed on its own goroutine is MD5 of the bytes
// written, whatever the body's size around the chunk boundaries and however it is cut into
// writes, and that the caller may reuse a written buffer at once.
func TestAsyncHash(t *testing.T) {
	sizes := []int{0, 1, asyncChunk - 1, asyncChunk, asyncChunk + 1, asyncChunks * asyncChunk,
		(asyncChunks+1)*asyncChunk + 7, asyncAfter - 1, asyncAfter, asyncAfter + 1,
		asyncAfter + (asyncChunks+2)*asyncChunk + 3, 3*asyncAfter + 5}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range sizes {
		for _, maxWrite := range []int{1 << 20, 4096, 100_001} {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			a := newAsyncHash(md5.New())
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
			want := md5.Sum(body)
			if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Errorf("size %d, writes up to %d: sum %x, want %x", size, maxWrite, got, want)
			}
			a.Close() // after Sum: nothing to do, must not block or panic
		}
	}
}

// TestAsyncHashClose checks that a hash given up before its Sum stops its goroutine.
func TestAsyncHashClose(t *testing.T) {
	for _, size := range []int{10, 3*asyncChunk + 1, asyncAfter + 20*asyncChunk} {
		a := newAsyncHash(md5.New())
		a.Write(make([]byte, size))
		a.Close()
		if a.work != nil {
			select {
			case <-a.done:
			default:
				t.Errorf("size %d: the hashing goroutine still runs after Close", size)
			}
		}
	}
}
