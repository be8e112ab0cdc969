package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// TestConcurrentUse runs encodes, decodes and heals of different objects on one Codec at once
// (under -race this checks the shared pool and reedsolomon encoder).
func TestConcurrentUse(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			size := int64(w*bs + 7*w + 1)
			data := randomBytes(t, int(size), uint64(w))
			for range 5 {
				files := encodeObject(t, c, data, size)
				readers := readersFor(files)
				readers[w%6] = nil
				got, _, err := decodeRange(c, readers, 0, size, size)
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("worker %d: decode err %v, equal %v", w, err, bytes.Equal(got, data))
					return
				}
				var healed bytes.Buffer
				writers := make([]io.Writer, 6)
				writers[w%6] = &healed
				if _, err := c.Heal(context.Background(), readers, writers, size); err != nil || !bytes.Equal(healed.Bytes(), files[w%6]) {
					errs <- fmt.Errorf("worker %d: heal err %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNoGoroutineLeaks runs calls that fail in various ways and checks that none leaves a
// goroutine behind: every call waits for its workers before it returns.
func TestNoGoroutineLeaks(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	size := int64(10*bs + 3)
	data := randomBytes(t, int(size), 31)
	files := encodeObject(t, c, data, size)
	before := runtime.NumGoroutine()

	ws := discardWriters(6)
	ws[0] = &failingWriter{limit: 100, err: errInjected}
	ws[1] = &failingWriter{limit: 5000, err: errInjected}
	ws[2] = &failingWriter{limit: 9000, err: errInjected}
	if _, _, err := c.Encode(context.Background(), bytes.NewReader(data), size, ws, 4); !errors.Is(err, ErrWriteQuorum) {
		t.Fatalf("encode: %v", err)
	}
	r := io.MultiReader(bytes.NewReader(data[:3*bs]), iotest.ErrReader(errInjected))
	if _, _, err := c.Encode(context.Background(), r, size, discardWriters(6), 4); !errors.Is(err, errInjected) {
		t.Fatalf("encode: %v", err)
	}
	readers := readersFor(files)
	readers[0], readers[1] = nil, nil
	readers[2] = brokenReaderAt{r: bytes.NewReader(files[2]), from: c.BlockOffset(5), err: errInjected}
	if _, _, err := c.Decode(context.Background(), io.Discard, readers, 0, size, size); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("decode: %v", err)
	}
	if _, _, err := c.Decode(context.Background(), &failingWriter{limit: 3 * bs, err: errInjected}, readersFor(files), 0, size, size); !errors.Is(err, errInjected) {
		t.Fatalf("decode: %v", err)
	}
	hw := make([]io.Writer, 6)
	hw[0] = io.Discard
	if _, err := c.Heal(context.Background(), readers, hw, size); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("heal: %v", err)
	}

	// The runtime may still be retiring goroutines it started itself; give it a moment.
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutines before, %d after", before, after)
}
