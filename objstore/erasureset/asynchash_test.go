package erasureset

import (
	"bytes"
	"crypto/md5"
	"testing"

	"github.com/flashstor/flashstor/internal/asynchash"
)

// TestAsyncHash checks the put's hash around its inline limit (internal/asynchash tests
// the chunks): the MD5 of the bytes written, and Close after Sum does nothing.
func TestAsyncHash(t *testing.T) {
	for _, size := range []int{0, asyncAfter - 1, asyncAfter, asyncAfter + 1, asyncAfter + 3*asynchash.Chunk + 5} {
		body := bytes.Repeat([]byte{7, 1, 9}, size/3+1)[:size]
		a := newAsyncHash(md5.New())
		for off := 0; off < size; off += 50_000 {
			a.Write(body[off:min(off+50_000, size)])
		}
		want := md5.Sum(body)
		if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Errorf("size %d: sum %x, want %x", size, got, want)
		}
		a.Close()
	}
}

// TestAsyncHashClose checks that a hash given up before its Sum stops its goroutine.
func TestAsyncHashClose(t *testing.T) {
	for _, size := range []int{10, asyncAfter + 20*asynchash.Chunk} {
		a := newAsyncHash(md5.New())
		a.Write(make([]byte, size))
		a.Close()
		if a.w.Running() {
			t.Errorf("size %d: the hashing goroutine still runs after Close", size)
		}
	}
}
