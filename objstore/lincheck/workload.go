package lincheck

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/flashstor/flashstor/objstore"
)

// Store is one client's way to the store under test. Its errors say how an operation
// ended: objstore.ErrPreconditionFailed (S3: 412) and objstore.ErrObjectNotFound (S3: 404
// NoSuchKey) are definite answers; any other error leaves the outcome unknown and fails
// the run (Result.Errors), unless it wraps ErrNoAnswer.
type Store interface {
	// Put stores the size bytes read from body at key, under cond; for IfMatch, etag is
	// the ETag the client sends.
	Put(ctx context.Context, key string, body io.Reader, size int64, cond Cond, etag string) error
	// Get returns the key's whole body and the ETag it was served with ("" if none).
	Get(ctx context.Context, key string) (body []byte, etag string, err error)
	// Delete removes the key's object.
	Delete(ctx context.Context, key string) error
}

// ErrNoAnswer is wrapped by a Store's error when the client got no answer at all (its
// connection was reset or closed before a response came). The outcome is then unknown,
// as for a client that times out; it is tallied and logged but, unlike an answer that is
// an error, does not fail the run: a client of a real network must expect it (a server
// that refuses a large body early may close the connection while the client still sends),
// and the cluster's checks cause it on purpose by killing nodes.
var ErrNoAnswer = errors.New("no answer")

// SizeClass is a range of body sizes, [Min, Max], drawn with a relative Weight.
type SizeClass struct {
	Weight   int
	Min, Max int
}

// DefaultSizes mixes bodies small enough to be stored inline in the object's metadata
// (under 128 KiB), bodies staged in the drives' data directories, and a few of several
// MiB, so that both commit paths are exercised.
var DefaultSizes = []SizeClass{
	{Weight: 6, Min: HeaderSize, Max: 100 << 10},
	{Weight: 3, Min: 130 << 10, Max: 1 << 20},
	{Weight: 1, Min: 2 << 20, Max: 4 << 20},
}

// Config is a workload: Clients clients, each making up to OpsPerClient operations on Keys
// (chosen at random) until Duration has passed.
type Config struct {
	Clients      int
	Keys         []string
	OpsPerClient int
	Duration     time.Duration
	// Seed makes the choice of operations repeatable (their interleaving is not).
	Seed uint64
	// Sizes are the body sizes (DefaultSizes if nil).
	Sizes []SizeClass
	// SlowShare of the puts (0 to 1) send half their body, stop for Pause, then send the
	// rest: the store holds a write in flight while other clients use the key.
	SlowShare float64
	Pause     time.Duration
	// AbandonShare of the writes (0 to 1) are given up by their client after a random
	// time up to AbandonAfter (their context ends), as a client that times out does: a
	// write that does not answer by then has an unknown outcome.
	AbandonShare float64
	AbandonAfter time.Duration
}

// HotKeys is the workload of a single-node check: eight clients, opsPerClient operations
// each, on three hot keys (one of them in a "directory"), bounded in time; a fifth of the
// puts sent slowly, one write in twenty abandoned.
func HotKeys(opsPerClient int) Config {
	return Config{
		Clients:      8,
		Keys:         []string{"k1", "k2", "dir/k3"},
		OpsPerClient: opsPerClient,
		Duration:     20*time.Second + time.Duration(opsPerClient)*150*time.Millisecond,
		Seed:         1,
		SlowShare:    0.2,
		Pause:        30 * time.Millisecond,
		AbandonShare: 0.05,
		AbandonAfter: 20 * time.Millisecond,
	}
}

// Need returns the outcomes a run of c must show to have shown anything (see
// Result.Check): writes and reads that succeeded, and, in a run long enough to be sure
// of them (a short one may by chance win none), conditional writes that won.
func (c Config) Need() []string {
	need := []string{"put ok", "get ok"}
	if c.OpsPerClient >= 100 {
		need = append(need, "put if-none-match ok", "put if-match ok")
	}
	return need
}

// Result is what a workload did.
type Result struct {
	// Ops is the recorded history.
	Ops []porcupine.Operation
	// Tally counts the operations by what they were and how they ended ("put if-match
	// 412"), to show what a run covered.
	Tally map[string]int
	// Errors are failures that are not a matter of ordering: a body that is not whole, an
	// ETag that is not its body's, an error from an operation its client did not abandon.
	Errors []error
	// NoAnswer are the first operations that got no answer (ErrNoAnswer).
	NoAnswer []error
}

// TallyString renders the tally in a stable order.
func (r Result) TallyString() string {
	keys := make([]string, 0, len(r.Tally))
	for k := range r.Tally {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, r.Tally[k])
	}
	return b.String()
}

// maxErrors bounds the errors a Result keeps.
const maxErrors = 20

// runGrace is how long after Config.Duration the operations still in flight may take
// before their context ends.
const runGrace = 30 * time.Second

// Run runs the workload, client i through store(i), and returns its history. It returns
// once every client has stopped: after its operations, or after cfg.Duration (a client
// makes no new operation then, and those in flight have runGrace more to end), or when
// ctx ends. An operation whose context ended has an unknown outcome.
func Run(ctx context.Context, cfg Config, store func(client int) Store) Result {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+runGrace)
	defer cancel()
	if cfg.Sizes == nil {
		cfg.Sizes = DefaultSizes
	}
	rec := NewRecorder()
	w := &workload{cfg: cfg, rec: rec, tally: map[string]int{}, deadline: time.Now().Add(cfg.Duration)}
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		c := &client{w: w, id: i, s: store(i), rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			etags: map[Value]string{}, seen: map[string]Value{}}
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
	return Result{Ops: rec.Operations(), Tally: w.tally, Errors: w.errs, NoAnswer: w.noAnswer}
}

// workload is a Run in progress.
type workload struct {
	cfg      Config
	rec      *Recorder
	deadline time.Time

	mu sync.Mutex
	// tally, errs and noAnswer are Result's. GUARDED_BY(mu).
	tally    map[string]int
	errs     []error
	noAnswer []error
}

// count adds an operation that ended with out to the tally.
func (w *workload) count(in Input, out Output) {
	w.countAs(in, [...]string{Unknown: "unknown", OK: "ok", NotFound: "404", PreconditionFailed: "412"}[out.Status])
}

// countAs adds an operation that ended as how to the tally.
func (w *workload) countAs(in Input, how string) {
	what := "get"
	switch in.Kind {
	case Delete:
		what = "delete"
	case Put:
		what = [...]string{Always: "put", IfAbsent: "put if-none-match", IfMatch: "put if-match"}[in.Cond]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tally[what+" "+how]++
}

// fail records an error that fails the run whatever the history.
func (w *workload) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, err)
	}
}

// unanswered records an operation that got no answer.
func (w *workload) unanswered(in Input, err error) {
	w.countAs(in, "no answer")
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.noAnswer) < maxErrors {
		w.noAnswer = append(w.noAnswer, err)
	}
}

// client is one client of a Run.
type client struct {
	w   *workload
	id  int
	s   Store
	rng *rand.Rand
	// seq numbers this client's values.
	seq uint32
	// etags are the ETags of the values this client wrote or read; seen is, by key, the
	// value this client last wrote or read there.
	etags map[Value]string
	seen  map[string]Value
}

func (c *client) run(ctx context.Context) {
	for n := 0; n < c.w.cfg.OpsPerClient && time.Now().Before(c.w.deadline) && ctx.Err() == nil; n++ {
		key := c.w.cfg.Keys[c.rng.IntN(len(c.w.cfg.Keys))]
		switch r := c.rng.IntN(100); {
		case r < 35:
			c.get(ctx, key)
		case r < 45:
			c.delete(ctx, key)
		case r < 55:
			c.put(ctx, Input{Key: key, Kind: Put, Cond: IfAbsent})
		case r < 70 && len(c.etags) > 0:
			c.put(ctx, Input{Key: key, Kind: Put, Cond: IfMatch, Match: c.matchFor(key)})
		default:
			c.put(ctx, Input{Key: key, Kind: Put})
		}
	}
}

// matchFor picks the value an If-Match on key names: mostly the last one this client saw
// there (likely current, so the write may win), else any it knows (likely stale).
func (c *client) matchFor(key string) Value {
	if v, ok := c.seen[key]; ok && v != 0 && c.rng.IntN(10) < 7 {
		return v
	}
	known := make([]Value, 0, len(c.etags))
	for v := range c.etags {
		known = append(known, v)
	}
	slices.Sort(known) // map order is random; the seed should decide
	return known[c.rng.IntN(len(known))]
}

// size draws a body size.
func (c *client) size() int {
	total := 0
	for _, s := range c.w.cfg.Sizes {
		total += s.Weight
	}
	r := c.rng.IntN(total)
	for _, s := range c.w.cfg.Sizes {
		if r < s.Weight {
			return s.Min + c.rng.IntN(s.Max-s.Min+1)
		}
		r -= s.Weight
	}
	panic("unreachable")
}

// writeContext returns the context of a write: ctx, or, for a write its client abandons,
// one that ends after a random time.
func (c *client) writeContext(ctx context.Context) (context.Context, bool, context.CancelFunc) {
	if c.rng.Float64() >= c.w.cfg.AbandonShare {
		return ctx, false, func() {}
	}
	after := time.Duration(c.rng.Int64N(int64(c.w.cfg.AbandonAfter) + 1))
	wctx, cancel := context.WithTimeout(ctx, after)
	return wctx, true, cancel
}

// put writes a new value of this client's under in's key and condition.
func (c *client) put(ctx context.Context, in Input) {
	c.seq++
	in.Value = Value(uint64(c.id+1)<<32 | uint64(c.seq))
	body := Body(in.Value, c.size())
	c.etags[in.Value] = etagOf(body)
	var r io.Reader = &pausingReader{b: body}
	if c.rng.Float64() < c.w.cfg.SlowShare {
		r = &pausingReader{b: body, pause: c.w.cfg.Pause, ctx: ctx}
	}
	wctx, abandoned, cancel := c.writeContext(ctx)
	defer cancel()
	op := c.w.rec.Call(c.id, in)
	err := c.s.Put(wctx, in.Key, r, int64(len(body)), in.Cond, c.etags[in.Match])
	out := c.end(op, in, err, abandoned)
	if out.Status == OK {
		c.seen[in.Key] = in.Value
	}
}

// delete removes the key.
func (c *client) delete(ctx context.Context, key string) {
	in := Input{Key: key, Kind: Delete}
	wctx, abandoned, cancel := c.writeContext(ctx)
	defer cancel()
	op := c.w.rec.Call(c.id, in)
	out := c.end(op, in, c.s.Delete(wctx, key), abandoned)
	if out.Status != Unknown {
		c.seen[key] = 0
	}
}

// end records how a write ended.
func (c *client) end(op Op, in Input, err error, abandoned bool) Output {
	var out Output
	switch {
	case err == nil:
		out.Status = OK
	case errors.Is(err, objstore.ErrPreconditionFailed):
		out.Status = PreconditionFailed
	case errors.Is(err, objstore.ErrObjectNotFound):
		out.Status = NotFound
	case abandoned:
	case errors.Is(err, ErrNoAnswer):
		op.Ambiguous()
		c.w.unanswered(in, fmt.Errorf("client %d: %s: %w", c.id, describe(in, out), err))
		return out
	default:
		c.w.fail(fmt.Errorf("client %d: %s: %w", c.id, describe(in, out), err))
	}
	if out.Status == Unknown {
		op.Ambiguous()
	} else {
		op.End(out)
	}
	c.w.count(in, out)
	return out
}

// get reads the key and checks that what it read is one write's body, whole.
func (c *client) get(ctx context.Context, key string) {
	in := Input{Key: key, Kind: Get}
	op := c.w.rec.Call(c.id, in)
	body, etag, err := c.s.Get(ctx, key)
	switch {
	case errors.Is(err, objstore.ErrObjectNotFound):
		out := Output{Status: NotFound}
		op.End(out)
		c.w.count(in, out)
		c.seen[key] = 0
		return
	case errors.Is(err, ErrNoAnswer):
		op.Drop()
		c.w.unanswered(in, fmt.Errorf("client %d: get(%s): %w", c.id, key, err))
		return
	case err != nil:
		op.Drop()
		c.w.fail(fmt.Errorf("client %d: get(%s): %w", c.id, key, err))
		return
	}
	v, err := Identify(body)
	if err != nil {
		op.Drop()
		c.w.fail(fmt.Errorf("client %d: get(%s) read a body that is not whole: %w", c.id, key, err))
		return
	}
	sum := etagOf(body)
	if etag != "" && etag != sum {
		c.w.fail(fmt.Errorf("client %d: get(%s) read value %x with ETag %s, its body's is %s", c.id, key, uint64(v), etag, sum))
	}
	out := Output{Status: OK, Value: v}
	op.End(out)
	c.w.count(in, out)
	c.etags[v] = sum
	c.seen[key] = v
}

// etagOf is the ETag of a single-part object: the hex MD5 of its body.
func etagOf(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

// pausingReader reads b; with a pause, it stops for that long (or until ctx ends) each time
// a read reaches the middle of b. It seeks, so that an S3 client may read it more than
// once (to sign it, then to send it).
type pausingReader struct {
	b     []byte
	off   int
	pause time.Duration
	ctx   context.Context
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if p.off >= len(p.b) {
		return 0, io.EOF
	}
	half := len(p.b) / 2
	end := len(p.b)
	if p.pause > 0 && p.off < half {
		end = half
	} else if p.pause > 0 && p.off == half {
		t := time.NewTimer(p.pause)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
		}
	}
	n := copy(b, p.b[p.off:end])
	p.off += n
	return n, nil
}

func (p *pausingReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = int64(p.off) + offset
	case io.SeekEnd:
		abs = int64(len(p.b)) + offset
	default:
		return 0, fmt.Errorf("pausingReader: bad whence %d", whence)
	}
	if abs < 0 || abs > int64(len(p.b)) {
		return 0, fmt.Errorf("pausingReader: seek to %d outside 0..%d", abs, len(p.b))
	}
	p.off = int(abs)
	return abs, nil
}

// OpsEnv names the environment variable that makes a linearizability test long: the
// number of operations each client makes (FLASHSTOR_LIN_OPS=2000 go test -run Linear ...).
const OpsEnv = "FLASHSTOR_LIN_OPS"

// OpsPerClient returns the operations per client a test should make: OpsEnv's value if it
// is set, else def.
func OpsPerClient(def int) (int, error) {
	v, ok := os.LookupEnv(OpsEnv)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number of operations per client", OpsEnv, v)
	}
	return n, nil
}
