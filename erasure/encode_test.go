package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// TestEncodeWriterFailures fails writers part-way through: Encode must go on while writeQuorum
// writers are alive, name the failed ones, and leave readable shards; below quorum it must
// stop with ErrWriteQuorum.
func TestEncodeWriterFailures(t *testing.T) {
	const bs = 4096
	size := int64(20*bs + 100)
	tests := []struct {
		k, m, quorum int
		fail         []int // shards whose writers fail
		offline      []int // shards with nil writers
		failAfter    int   // bytes each failing writer accepts
		wantQuorum   bool
	}{
		{4, 2, 4, []int{0}, nil, 3000, false},
		{4, 2, 4, []int{1, 5}, nil, 10000, false},
		{4, 2, 4, []int{2}, []int{4}, 0, false},
		{4, 2, 5, []int{1, 5}, nil, 10000, true},
		{4, 2, 4, []int{0, 1, 2}, nil, 20000, true},
		{4, 2, 4, nil, []int{0, 1, 2}, 0, true},
		{8, 4, 9, []int{0, 3, 11}, nil, 5000, false},
		{8, 4, 9, []int{0, 3, 11, 7}, nil, 5000, true},
		{1, 1, 1, []int{0}, nil, 1, false},
		{16, 0, 16, []int{15}, nil, 2000, true},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%d+%d/q%d/fail%v/offline%v", tc.k, tc.m, tc.quorum, tc.fail, tc.offline)
		t.Run(name, func(t *testing.T) {
			c := mustNew(t, tc.k, tc.m, bs, DefaultBitrot)
			if int64(tc.failAfter) >= c.ShardFileSize(size) {
				t.Fatalf("failAfter %d does not fail a %d-byte shard file", tc.failAfter, c.ShardFileSize(size))
			}
			data := randomBytes(t, int(size), 17)
			bufs := make([]*bytes.Buffer, c.TotalShards())
			writers := make([]io.Writer, c.TotalShards())
			for i := range writers {
				bufs[i] = new(bytes.Buffer)
				writers[i] = bufs[i]
			}
			for _, i := range tc.fail {
				writers[i] = &failingWriter{limit: tc.failAfter, err: errInjected}
			}
			for _, i := range tc.offline {
				writers[i] = nil
			}
			_, errs, err := c.Encode(context.Background(), bytes.NewReader(data), size, writers, tc.quorum)
			if tc.wantQuorum {
				if !errors.Is(err, ErrWriteQuorum) {
					t.Fatalf("err = %v, want ErrWriteQuorum", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			failed := map[int]error{}
			for _, i := range tc.fail {
				failed[i] = errInjected
			}
			for _, i := range tc.offline {
				failed[i] = ErrShardMissing
			}
			files := make([][]byte, c.TotalShards())
			for i, e := range errs {
				want, bad := failed[i]
				if bad != (e != nil) || (bad && !errors.Is(e, want)) {
					t.Errorf("shard %d: error %v, want %v", i, e, want)
				}
				if !bad {
					files[i] = bufs[i].Bytes()
				}
			}
			got, _, err := decodeRange(c, readersFor(files), 0, size, size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decode after partial write: err %v, equal %v", err, bytes.Equal(got, data))
			}
		})
	}
}

// TestEncodeReaderErrors covers a body that is short, long, failing mid-way, failing together
// with its last bytes (a signature check at EOF), or making no progress.
func TestEncodeReaderErrors(t *testing.T) {
	const bs = 4096
	data := randomBytes(t, 3*bs+10, 18)
	size := int64(len(data))
	tests := []struct {
		name string
		r    io.Reader
		size int64
		want error
	}{
		{"short", bytes.NewReader(data[:len(data)-1]), size, io.ErrUnexpectedEOF},
		{"short by a stripe", bytes.NewReader(data[:bs]), size, io.ErrUnexpectedEOF},
		{"empty but sized", bytes.NewReader(nil), size, io.ErrUnexpectedEOF},
		{"long", bytes.NewReader(data), size - 1, ErrSizeExceeded},
		{"long empty", bytes.NewReader(data[:1]), 0, ErrSizeExceeded},
		{"fails mid-way", io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(errInjected)), size, errInjected},
		{"fails mid-way unknown size", io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(errInjected)), -1, errInjected},
		{"fails after last byte", &failingReader{r: bytes.NewReader(data), err: errInjected}, size, errInjected},
		{"fails with last byte", &failingReader{r: bytes.NewReader(data), err: errInjected, withLast: true}, size, errInjected},
		{"fails with last byte unknown size", &failingReader{r: bytes.NewReader(data), err: errInjected, withLast: true}, -1, errInjected},
		{"fails at EOF of empty body", iotest.ErrReader(errInjected), 0, errInjected},
		{"no progress", zeroReader{}, size, io.ErrNoProgress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, 4, 2, bs, DefaultBitrot)
			writers := make([]io.Writer, c.TotalShards())
			for i := range writers {
				writers[i] = io.Discard
			}
			_, _, err := c.Encode(context.Background(), tc.r, tc.size, writers, 4)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// zeroReader returns (0, nil) forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestEncodeReaderQuirks feeds the object one byte at a time and with io.EOF returned
// together with the last bytes: the shard files must not change.
func TestEncodeReaderQuirks(t *testing.T) {
	const bs = 1000
	c := mustNew(t, 3, 2, bs, DefaultBitrot)
	data := randomBytes(t, 2*bs+7, 19)
	want := encodeObject(t, c, data, int64(len(data)))
	for name, mk := range map[string]func() io.Reader{
		"one byte":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"data+EOF":   func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		"half reads": func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
	} {
		for _, size := range []int64{int64(len(data)), -1} {
			bufs := make([]bytes.Buffer, c.TotalShards())
			writers := make([]io.Writer, c.TotalShards())
			for i := range writers {
				writers[i] = &bufs[i]
			}
			n, _, err := c.Encode(context.Background(), mk(), size, writers, c.TotalShards())
			if err != nil || n != int64(len(data)) {
				t.Fatalf("%s, size %d: n %d, err %v", name, size, n, err)
			}
			for i := range bufs {
				if !bytes.Equal(bufs[i].Bytes(), want[i]) {
					t.Fatalf("%s, size %d: shard %d differs", name, size, i)
				}
			}
		}
	}
}

func TestEncodeRejectsBadArguments(t *testing.T) {
	c := mustNew(t, 4, 2, 4096, DefaultBitrot)
	six := make([]io.Writer, 6)
	for i := range six {
		six[i] = io.Discard
	}
	tests := []struct {
		name    string
		writers []io.Writer
		size    int64
		quorum  int
	}{
		{"too few writers", six[:5], 10, 4},
		{"quorum below k", six, 10, 3},
		{"quorum above k+m", six, 10, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Encode(context.Background(), bytes.NewReader(make([]byte, 10)), tc.size, tc.writers, tc.quorum)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestEncodeCancelled(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	data := randomBytes(t, 100*bs, 20)
	writers := make([]io.Writer, c.TotalShards())
	for i := range writers {
		writers[i] = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Encode(ctx, bytes.NewReader(data), int64(len(data)), writers, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled: %v", err)
	}
	// Cancelled by a writer during the first stripe: Encode must stop within a few stripes.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	writers[0] = &cancelWriter{cancel: cancel, after: 1}
	n, _, err := c.Encode(ctx, bytes.NewReader(data), int64(len(data)), writers, 4)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-way: %v", err)
	}
	if n > 4*bs {
		t.Fatalf("read %d bytes after a cancel during the first stripe", n)
	}
}

// TestEncodeSlowWriterDoesNotBlockOthers holds one writer until the others have received
// several stripes: with per-drive goroutines and double buffering they get at least two.
func TestEncodeSlowWriterDoesNotBlockOthers(t *testing.T) {
	const bs = 4096
	c := mustNew(t, 4, 2, bs, DefaultBitrot)
	data := randomBytes(t, 10*bs, 21)
	release := make(chan struct{})
	progressed := make(chan struct{})
	writers := make([]io.Writer, c.TotalShards())
	for i := range writers {
		writers[i] = io.Discard
	}
	writers[0] = &gateWriter{gate: release}
	writers[1] = &signalWriter{after: 2, signal: progressed}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Encode(context.Background(), bytes.NewReader(data), int64(len(data)), writers, 4)
		done <- err
	}()
	<-progressed // blocks forever (test timeout) if writer 1 waits for writer 0
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// gateWriter blocks every Write until gate is closed.
type gateWriter struct{ gate chan struct{} }

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.gate
	return len(p), nil
}

// signalWriter closes signal once it has received after writes.
type signalWriter struct {
	after  int
	n      int
	signal chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	if s.n++; s.n == s.after {
		close(s.signal)
	}
	return len(p), nil
}
