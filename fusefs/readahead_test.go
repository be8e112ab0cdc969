package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// TestReadaheadBounded reads an object through a readahead stream as the kernel does (1
// MiB requests, some answered out of order, replies sent late), checks every byte and that
// the stream never holds more than raBuffers buffers; then it replaces the version and
// checks that the stream lets go of all its buffers.
func TestReadaheadBounded(t *testing.T) {
	l := newLayer(t, 4)
	ctx := context.Background()
	if err := l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := pattern(9*raWindow+777, 3)
	putObject(t, l, "obj", data, nil)
	h, err := l.OpenObject(ctx, testBucket, "obj")
	must(t, "OpenObject", err)
	r := newSharedReader(h, 1)
	defer r.release()
	var current atomic.Bool
	current.Store(true)
	s := startReadahead(ctx, r, 0, current.Load)
	defer s.stop()

	held := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.held
	}
	const req = 1 << 20
	var pending []fuse.ReadResult // replies not sent yet: their windows stay in use
	for off := int64(0); off < int64(len(data)); off += 2 * req {
		// The kernel's requests may arrive out of order: the second before the first.
		for _, o := range []int64{off + req, off} {
			if o >= int64(len(data)) {
				continue
			}
			res, ok := s.read(make([]byte, req), o)
			if !ok {
				t.Fatalf("read at %d not answered by the stream", o)
			}
			got, _ := res.Bytes(nil)
			if want := data[o:min(o+req, int64(len(data)))]; !bytes.Equal(got, want) {
				t.Fatalf("read at %d differs", o)
			}
			pending = append(pending, res)
		}
		if len(pending) > 3 {
			pending[0].Done()
			pending = pending[1:]
		}
		if n := held(); n > raBuffers {
			t.Fatalf("the stream holds %d buffers, more than %d", n, raBuffers)
		}
	}
	for _, res := range pending {
		res.Done()
	}

	// A new version: the filler stops at its next window and drops everything.
	s2 := startReadahead(ctx, r, 0, current.Load)
	defer s2.stop()
	if res, ok := s2.read(make([]byte, req), 0); ok {
		res.Done()
	}
	current.Store(false)
	if res, ok := s2.read(make([]byte, req), raWindow); ok { // lets the filler go on
		res.Done()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s2.mu.Lock()
		n, stopped := s2.held, s2.stopped
		s2.mu.Unlock()
		if stopped && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a version change the stream still holds %d buffers (stopped %v)", n, stopped)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := s2.read(make([]byte, req), 2*raWindow); ok {
		t.Fatal("a stopped stream answered a read")
	}
}

// abandoningHandle serves an object's bytes by ReadInto, except for the window at bad,
// whose read fails as a drive read that timed out does (objstore.ErrBufferAbandoned).
type abandoningHandle struct {
	objstore.ObjectHandle
	data []byte
	bad  int64
}

func (h *abandoningHandle) ReadInto(ctx context.Context, p []byte, off int64) (int64, error) {
	if off == h.bad {
		return 0, fmt.Errorf("reading: %w", objstore.ErrBufferAbandoned)
	}
	return int64(copy(p, h.data[off:])), nil
}

// TestReadaheadDropsAbandonedWindow: a window whose buffer a timed-out drive read may still
// write into is not answered from, its buffer is given up rather than pooled, and the
// stream's count of buffers stays true (it goes back to 0 once the stream stops).
func TestReadaheadDropsAbandonedWindow(t *testing.T) {
	l := newLayer(t, 4)
	ctx := context.Background()
	must(t, "MakeBucket", l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}))
	data := pattern(3*raWindow, 5)
	putObject(t, l, "obj", data, nil)
	inner, err := l.OpenObject(ctx, testBucket, "obj")
	must(t, "OpenObject", err)
	r := newSharedReader(&abandoningHandle{ObjectHandle: inner, data: data, bad: raWindow}, 1)
	defer r.release()
	s := startReadahead(ctx, r, 0, func() bool { return true })
	res, ok := s.read(make([]byte, 1<<20), 0)
	if !ok {
		t.Fatal("the first window did not answer")
	}
	if got, _ := res.Bytes(nil); !bytes.Equal(got, data[:1<<20]) {
		t.Fatal("the first window's bytes differ")
	}
	res.Done()
	if _, ok := s.read(make([]byte, 1<<20), raWindow); ok {
		t.Fatal("a read was answered from an abandoned window")
	}
	s.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		held, filling := s.held, s.filling
		s.mu.Unlock()
		if held == 0 && !filling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped stream still counts %d buffers (filling %v)", held, filling)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
