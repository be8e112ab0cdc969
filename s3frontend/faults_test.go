package s3frontend_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/s3frontend"
)

// TestDriveFaults takes drives away under the server: readiness turns to 503, and an
// operation without its quorum is S3's 503 SlowDown, never a 500.
func TestDriveFaults(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			var mu sync.Mutex // guards drives, filled as the deployment opens its drives
			var drives []*faulty.Drive
			e := start(t, tr, func(o *envOptions) {
				o.wrapDrive = func(d storage.Drive) storage.Drive {
					f := faulty.Wrap(d)
					mu.Lock()
					drives = append(drives, f)
					mu.Unlock()
					return f
				}
			})
			c := e.sdk()
			mkbucket(t, c, "faults")
			putString(t, c, "faults", "k", "data")
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/ready", nil), false); r.status != 200 {
				t.Fatalf("ready with every drive: %d", r.status)
			}
			mu.Lock()
			if len(drives) != 4 {
				t.Fatalf("%d fault-injecting drives", len(drives))
			}
			gone := errors.New("drive unplugged")
			for _, d := range drives[:3] {
				d.Fail("*", gone)
			}
			mu.Unlock()
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/ready", nil), false); r.status != 503 {
				t.Errorf("ready with 1 drive of 4: %d", r.status)
			}
			if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), false); r.status != 200 {
				t.Errorf("live with 1 drive of 4: %d", r.status)
			}
			_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("faults"), Key: aws.String("k")})
			wantCode(t, "GetObject without read quorum", err, "SlowDown")
			_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("faults"), Key: aws.String("k2"), Body: stringsReader("x")})
			wantCode(t, "PutObject without write quorum", err, "SlowDown")
		})
	}
}

// trapDrive stops its ReadMeta calls while armed: it says so on entered, waits for
// release, then looks at the context it was given, as a drive's work does (its deadline,
// whether it is done), and reports on finished a panic it recovered from, or nil.
type trapDrive struct {
	storage.Drive
	armed    *atomic.Bool
	entered  chan<- struct{}
	release  <-chan struct{}
	finished chan<- any
}

func (d trapDrive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	if !d.armed.Load() {
		return d.Drive.ReadMeta(ctx, bucket, key)
	}
	d.entered <- struct{}{}
	<-d.release
	var r any
	func() {
		defer func() { r = recover() }()
		ctx.Deadline()
		_ = ctx.Err()
	}()
	if r != nil {
		d.finished <- panicked{r}
		return nil, fmt.Errorf("the call's context panicked: %v", r)
	}
	d.finished <- nil
	return d.Drive.ReadMeta(ctx, bucket, key)
}

// panicked is what a trapDrive reports of a context that panicked.
type panicked struct{ value any }

// TestDriveCallOutlivesRequest: a client that goes away while its PUT reads the key's
// current version (under the key's lock, before the commit) ends the request's context
// on net/http; the layer stops waiting for the drives, the request ends and its pooled
// state is reused, while the drive calls run on with the context. They must find it
// whole: the server once handed them a context inside its pooled state, zeroed at the
// end of the request, and the first drive call to look at it crashed the server (met by
// a commit; commits now run to their end whatever the context, so a read stands in).
func TestDriveCallOutlivesRequest(t *testing.T) {
	var armed atomic.Bool
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	finished := make(chan any, 4)
	e := start(t, s3frontend.TransportNetHTTP, func(o *envOptions) {
		o.wrapDrive = func(d storage.Drive) storage.Drive {
			return trapDrive{Drive: d, armed: &armed, entered: entered, release: release, finished: finished}
		}
	})
	c := e.sdk()
	mkbucket(t, c, "outlive")
	armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	put := make(chan error, 1)
	go func() {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("outlive"), Key: aws.String("k"), Body: stringsReader("abandoned")})
		put <- err
	}()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the PUT never reached its commit")
	}
	cancel()
	if err := <-put; err == nil {
		t.Fatal("a PUT whose client went away mid-commit answered the client")
	}
	// Shutdown returns once every request has ended: the call's state is then reset.
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := e.srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with the drive calls stopped: %v", err)
	}
	stopped := 1 + len(entered) // the drive calls stopped, at least
	released = true
	close(release)
	for range stopped {
		select {
		case r := <-finished:
			if p, ok := r.(panicked); ok {
				t.Fatalf("a drive call that outlived its request panicked on its context: %v", p.value)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a released drive call did not finish")
		}
	}
}
