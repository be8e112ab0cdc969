package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

// stallDrive stops its CommitObject and DeleteObject calls while the stall is armed: it
// says so on entered, waits for release, then runs the call, and says so on finished.
type stallDrive struct {
	storage.Drive
	st *stall
}

// stall is shared by the drives it stops.
type stall struct {
	mu sync.Mutex
	// method is the call to stop ("" none), on left more drives. GUARDED_BY(mu).
	method string
	left   int

	entered, finished chan struct{}
	release           chan struct{}
}

// take reports whether this call of method is one to stop.
func (s *stall) take(method string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.method != method || s.left == 0 {
		return false
	}
	s.left--
	return true
}

func (d stallDrive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	if !d.st.take("CommitObject") {
		return d.Drive.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
	}
	d.st.entered <- struct{}{}
	<-d.st.release
	defer func() { d.st.finished <- struct{}{} }()
	return d.Drive.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

func (d stallDrive) DeleteObject(ctx context.Context, bucket, key string) error {
	if !d.st.take("DeleteObject") {
		return d.Drive.DeleteObject(ctx, bucket, key)
	}
	d.st.entered <- struct{}{}
	<-d.st.release
	defer func() { d.st.finished <- struct{}{} }()
	return d.Drive.DeleteObject(ctx, bucket, key)
}

// TestCancelledWriteIsWhole cancels a put and a delete while some drives have not yet
// taken them (more than the write quorum allows to miss) and checks the outcome is one
// thing: a write that returned an error left the old object, a write that returned nil
// left the new state. It once returned the context's error at once while the stopped
// drive calls ran on, unseen by the rollback, and made the write visible afterwards (or,
// for a delete, left the key unreadable): the linearizability check's long runs met it.
func TestCancelledWriteIsWhole(t *testing.T) {
	old, next := []byte("the old body"), []byte("the new body")
	cases := []struct {
		name   string
		method string
		drives int // drives stopped, of 4 (write quorum 3)
		write  func(ctx context.Context, l objstore.ObjectLayer) error
		after  []byte // the key's body if the write succeeded (nil: absent)
	}{
		{"put", "CommitObject", 2, func(ctx context.Context, l objstore.ObjectLayer) error {
			_, err := l.PutObject(ctx, "cancel", "k", bytes.NewReader(next), int64(len(next)), objstore.PutOptions{})
			return err
		}, next},
		{"delete", "DeleteObject", 3, func(ctx context.Context, l objstore.ObjectLayer) error {
			return l.DeleteObject(ctx, "cancel", "k")
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &stall{entered: make(chan struct{}, 4), finished: make(chan struct{}, 4), release: make(chan struct{})}
			d, err := deploy.Open(context.Background(), deploy.Config{
				Drives:    []string{filepath.Join(t.TempDir(), "d{1...4}")},
				Parity:    2,
				WrapDrive: func(d storage.Drive) storage.Drive { return stallDrive{Drive: d, st: st} },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			if err := d.MakeBucket(t.Context(), "cancel", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.PutObject(t.Context(), "cancel", "k", bytes.NewReader(old), int64(len(old)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			st.mu.Lock()
			st.method, st.left = tc.method, tc.drives
			st.mu.Unlock()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tc.write(ctx, d) }()
			released := false
			defer func() {
				if !released {
					close(st.release)
				}
			}()
			for range tc.drives {
				select {
				case <-st.entered:
				case <-time.After(20 * time.Second):
					t.Fatal("the write never reached the drives")
				}
			}
			cancel()
			released = true
			close(st.release)
			var werr error
			select {
			case werr = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the cancelled write did not return")
			}
			for range tc.drives {
				select {
				case <-st.finished:
				case <-time.After(20 * time.Second):
					t.Fatal("a stopped drive call did not finish")
				}
			}

			want := tc.after
			if werr != nil {
				want = old
			}
			h, err := d.OpenObject(context.Background(), "cancel", "k")
			var got []byte
			switch {
			case errors.Is(err, objstore.ErrObjectNotFound):
			case err != nil:
				t.Fatalf("reading the key after the write (which returned %v): %v", werr, err)
			default:
				var buf bytes.Buffer
				_, err = h.WriteRange(context.Background(), &buf, 0, h.Info().Size)
				h.Close()
				if err != nil {
					t.Fatal(err)
				}
				got = buf.Bytes()
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the write returned %v and the key then holds %q, want %q", werr, got, want)
			}
		})
	}
}
