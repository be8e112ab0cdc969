package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/lincheck"
)

// The traffic of the fault suite: writers of fresh keys whose acknowledged objects are
// checked byte for byte after the fault, and the linearizability workload on hot keys.

const faultBucket = "faults"

// faultOpTimeout bounds one S3 call of the fault suite by default: a call to a paused or
// cut-off node gives up after it, with an unknown outcome.
const faultOpTimeout = 8 * time.Second

// errTally counts the failed calls by node, operation and error (an S3 error code, or
// "no answer"), to report what a fault did to the clients (a paused node's refused
// writes, for one).
type errTally struct {
	mu sync.Mutex
	n  map[string]int // GUARDED_BY(mu)
}

func (e *errTally) add(node int, op string, err error) {
	what := "no answer"
	var ae smithy.APIError
	if errors.As(err, &ae) {
		what = ae.ErrorCode()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[fmt.Sprintf("node %d %s %s", node+1, op, what)]++
}

func (e *errTally) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := make([]string, 0, len(e.n))
	for k := range e.n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, e.n[k])
	}
	return b.String()
}

// count returns how many failures of node's op ended with code.
func (e *errTally) count(node int, op, code string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[fmt.Sprintf("node %d %s %s", node+1, op, code)]
}

// ackedObj is a written object: its value and size (lincheck.Body), and the node that
// took it.
type ackedObj struct {
	v    lincheck.Value
	size int
	node int
}

// ackedObjects are the objects the writers wrote: acknowledged, or of unknown outcome (the
// call failed: the object may or may not be there, but if it is, it is whole).
type ackedObjects struct {
	mu sync.Mutex
	// acked and unknown are by key. GUARDED_BY(mu).
	acked, unknown map[string]ackedObj
}

// writeFresh runs workers writers of fresh keys through the nodes (worker w starting at
// node w, moving to the next node after a failure) until ctx ends, at most 5000 writes
// each.
func (a *ackedObjects) writeFresh(ctx context.Context, c *faultCluster, workers int, opTimeout time.Duration, errs *errTally) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			node := w % len(c.nodes)
			for seq := 1; seq <= 5000 && ctx.Err() == nil; seq++ {
				o := ackedObj{v: lincheck.Value(uint64(0xacc0+w)<<32 | uint64(seq)), node: node}
				o.size = lincheck.HeaderSize + rng.IntN(100<<10)
				if rng.IntN(4) == 0 {
					o.size = 130<<10 + rng.IntN(200<<10) // staged, not inline
				}
				key := fmt.Sprintf("acked/w%d/%05d", w, seq)
				octx, cancel := context.WithTimeout(ctx, opTimeout)
				_, err := c.client(node).PutObject(octx, &s3.PutObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key),
					Body: bytes.NewReader(lincheck.Body(o.v, o.size)), ContentLength: aws.Int64(int64(o.size))})
				cancel()
				a.mu.Lock()
				if err == nil {
					a.acked[key] = o
				} else {
					a.unknown[key] = o
				}
				a.mu.Unlock()
				if err != nil {
					if ctx.Err() == nil {
						errs.add(node, "PutObject", err)
					}
					node = (node + 1) % len(c.nodes)
					select { // do not spin on a node that refuses at once
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
}

// verify reads every acknowledged object through each of the nodes and compares it byte
// for byte with what was written; an object of unknown outcome must be absent or whole.
func (a *ackedObjects) verify(t *testing.T, c *faultCluster, nodes ...int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.acked) == 0 {
		t.Fatal("no write was acknowledged: the run shows nothing")
	}
	type item struct {
		node      int
		key       string
		o         ackedObj
		mustExist bool
	}
	items := make(chan item)
	var bad atomic.Int32
	check := func(it item) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := c.client(it.node).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(it.key)})
		var got []byte
		if err == nil {
			got, err = io.ReadAll(out.Body)
			out.Body.Close()
		}
		var ae smithy.APIError
		switch {
		case !it.mustExist && errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey":
		case err != nil:
			bad.Add(1)
			t.Errorf("GET %s (written through node %d) through node %d: %v", it.key, it.o.node+1, it.node+1, err)
		case !bytes.Equal(got, lincheck.Body(it.o.v, it.o.size)):
			bad.Add(1)
			v, why := lincheck.Identify(got)
			t.Errorf("GET %s through node %d: %d bytes (value %x: %v), want value %x of %d bytes", it.key, it.node+1, len(got), uint64(v), why, uint64(it.o.v), it.o.size)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for it := range items {
				if bad.Load() < 20 {
					check(it)
				}
			}
		})
	}
	for _, node := range nodes {
		for key, o := range a.acked {
			items <- item{node, key, o, true}
		}
		for key, o := range a.unknown {
			items <- item{node, key, o, false}
		}
	}
	close(items)
	wg.Wait()
	t.Logf("verified %d acknowledged objects (and %d of unknown outcome) byte for byte through nodes %v", len(a.acked), len(a.unknown), oneBased(nodes))
}

func oneBased(nodes []int) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n + 1
	}
	return out
}

// nodeStore is a lincheck.Store of one client of the cluster: it calls one node, and moves
// to the next one after a call that got no definite answer. Every answer but 412 and 404
// leaves the outcome unknown (lincheck.ErrNoAnswer): a 503 under a fault may come after
// part of a write happened, and porcupine then lets the write have happened or not.
type nodeStore struct {
	c    *faultCluster
	node int
	// pace is the wait before each call, so that a client's operations span the fault.
	pace time.Duration
	// timeout bounds each call.
	timeout time.Duration
	errs    *errTally
}

var _ lincheck.Store = (*nodeStore)(nil)

func (s *nodeStore) call(ctx context.Context, op string, f func(context.Context, *s3.Client) error) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", lincheck.ErrNoAnswer, ctx.Err())
	case <-time.After(s.pace):
	}
	node := s.node
	octx, cancel := context.WithTimeout(ctx, cmp.Or(s.timeout, faultOpTimeout))
	defer cancel()
	err := f(octx, s.c.client(node))
	var ae smithy.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed":
		return fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
	case errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey":
		return fmt.Errorf("%w: %w", objstore.ErrObjectNotFound, err)
	}
	if ctx.Err() == nil {
		s.errs.add(node, op, err)
	}
	s.node = (node + 1) % len(s.c.nodes)
	return fmt.Errorf("node %d: %w: %w", node+1, lincheck.ErrNoAnswer, err)
}

func (s *nodeStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond lincheck.Cond, etag string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size)}
	switch cond {
	case lincheck.IfAbsent:
		in.IfNoneMatch = aws.String("*")
	case lincheck.IfMatch:
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	return s.call(ctx, "PutObject", func(ctx context.Context, c *s3.Client) error {
		if sk, ok := body.(io.Seeker); ok {
			sk.Seek(0, io.SeekStart) // a call after a failed one sends the body again
		}
		_, err := c.PutObject(ctx, in)
		return err
	})
}

func (s *nodeStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	var b []byte
	var etag string
	err := s.call(ctx, "GetObject", func(ctx context.Context, c *s3.Client) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		if b, err = io.ReadAll(out.Body); err != nil {
			return err
		}
		etag = strings.Trim(aws.ToString(out.ETag), `"`)
		return nil
	})
	return b, etag, err
}

func (s *nodeStore) Delete(ctx context.Context, key string) error {
	return s.call(ctx, "DeleteObject", func(ctx context.Context, c *s3.Client) error {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key)})
		return err
	})
}

// faultWork is the traffic of one fault test in progress.
type faultWork struct {
	t      *testing.T
	c      *faultCluster
	cancel context.CancelFunc
	done   chan struct{}
	lin    lincheck.Result
	cfg    lincheck.Config
	objs   *ackedObjects
	errs   *errTally
}

// faultLinOps is the most operations each linearizability client makes in one fault test
// (FLASHSTOR_LIN_OPS raises it for a soak).
const faultLinOps = 400

// startFaultWork starts, through every node, four writers of fresh keys and eight
// linearizability clients on six hot keys (bodies up to 300 KiB, inline and staged, some
// sent slowly), which run until finish; each of their calls gives up after opTimeout.
func startFaultWork(t *testing.T, c *faultCluster, opTimeout time.Duration) *faultWork {
	t.Helper()
	ops, err := lincheck.OpsPerClient(faultLinOps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &faultWork{t: t, c: c, cancel: cancel, done: make(chan struct{}), errs: &errTally{},
		objs: &ackedObjects{acked: map[string]ackedObj{}, unknown: map[string]ackedObj{}}}
	w.cfg = lincheck.Config{
		Clients: 8, Keys: []string{"hot/k1", "hot/k2", "hot/k3", "hot/k4", "k5", "k6"}, OpsPerClient: ops,
		Duration: 10 * time.Minute, Seed: 14,
		Sizes:     []lincheck.SizeClass{{Weight: 3, Min: lincheck.HeaderSize, Max: 64 << 10}, {Weight: 1, Min: 130 << 10, Max: 300 << 10}},
		SlowShare: 0.1, Pause: 20 * time.Millisecond,
	}
	var wg sync.WaitGroup
	wg.Go(func() { w.objs.writeFresh(ctx, c, 4, opTimeout, w.errs) })
	wg.Go(func() {
		w.lin = lincheck.Run(ctx, w.cfg, func(i int) lincheck.Store {
			return &nodeStore{c: c, node: i % len(c.nodes), pace: 50 * time.Millisecond, timeout: opTimeout, errs: w.errs}
		})
	})
	go func() { wg.Wait(); close(w.done) }()
	return w
}

// finish stops the traffic after settle more of it, and checks the history of the hot
// keys for linearizability (porcupine; a violation fails the test with the history's
// picture) and every acknowledged object byte for byte through the nodes given.
func (w *faultWork) finish(settle time.Duration, verifyNodes ...int) {
	t := w.t
	t.Helper()
	time.Sleep(settle)
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the clients did not stop within 2 minutes of being told to")
	}
	t.Logf("client errors: %s", w.errs)
	w.lin.Check(t, 2*time.Minute, "put ok", "get ok", "delete ok")
	w.objs.verify(t, w.c, verifyNodes...)
}

// faultEnvDuration reads a duration from the environment (for a longer soak), else def.
func faultEnvDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}
