package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"golang.org/x/sys/unix"
)

// The chaos soak (issue 9): for a bounded time, S3 clients and file system calls on the
// mount write, read, copy, rename, list and delete, while faults are injected into the
// drives and the server is killed with SIGKILL and restarted. Every acknowledged write is
// recorded; a write whose answer was lost may or may not have happened, so each object has
// a set of possible contents. At the end, after a heal, every object is read through both
// faces and must be one of its possible contents, byte for byte (so nothing is torn or
// half-written), the listing must hold exactly the objects found, and a second deep heal
// must find nothing to do (every drive complete).
//
//	go test -run TestChaos -v ./cmd/flashstor/                       # about 60 s
//	FLASHSTOR_CHAOS_DURATION=10m go test -timeout 30m -run TestChaos -v ./cmd/flashstor/
//	FLASHSTOR_CHAOS_SEED=N ...                                       # a run's random choices again
//	FLASHSTOR_CHAOS_REDO_LOG=1 ...                                   # the server with --drive-redo-log

const chaosBucket = "chaos"

// candidate is one possible content of an object: the bytes of seed and size, or absent.
type candidate struct {
	seed uint64
	size int // -1: absent (deleted, or never written)
}

var absent = candidate{size: -1}

// bytes returns the content of v.
func (v candidate) bytes() []byte {
	b := make([]byte, max(v.size, 0))
	r := rand.New(rand.NewPCG(v.seed, 99))
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		for j, x := 0, r.Uint64(); j < 8; j, x = j+1, x>>8 {
			w[j] = byte(x)
		}
		copy(b[i:], w[:])
	}
	return b
}

// object is what a worker knows of one of its objects: its possible contents.
type object struct {
	key   string // the S3 key; through the mount, chaosBucket/key
	cands []candidate
}

// acked records an acknowledged write: v is the content now.
func (o *object) acked(v candidate) { o.cands = []candidate{v} }

// maybe records a write whose outcome is unknown: v may be the content now.
func (o *object) maybe(vs ...candidate) {
	for _, v := range vs {
		if !slices.Contains(o.cands, v) {
			o.cands = append(o.cands, v)
		}
	}
}

// match returns the candidate whose content is got, or false.
func (o *object) match(got []byte, exists bool) (candidate, bool) {
	for _, v := range o.cands {
		if (v == absent) == !exists && (v == absent || v.size == len(got) && bytes.Equal(v.bytes(), got)) {
			return v, true
		}
	}
	return candidate{}, false
}

// presentCands returns the candidates that are a content, not absence.
func (o *object) presentCands() []candidate {
	var out []candidate
	for _, v := range o.cands {
		if v != absent {
			out = append(out, v)
		}
	}
	return out
}

// chaos is one soak run.
type chaos struct {
	t      *testing.T
	seed   uint64
	dir    string
	drives []string
	mount  string
	srv    *chaosServer
	// up is false while the server is being killed and restarted: workers wait.
	up atomic.Bool
	// gen counts kills: an answer of "not found" is believed only if no kill came between
	// the call and its answer (a killed server's mount point is an empty directory).
	gen atomic.Uint64
	// objects are every worker's objects, the workers' own while they run.
	objects [][]*object
	seq     atomic.Uint64
	// sizes and keys are every content written so far, by seed: its size and the key it was
	// written to, to name the content of a wrong read. Guarded by mu.
	sizes map[uint64]int
	keys  map[uint64]string

	mu sync.Mutex
	// ops, opErrors, faults and faultsSkipped count by kind. Guarded by mu.
	ops, opErrors, faults, faultsSkipped map[string]int
	// errKinds counts the failed operations by kind and error (an errno, an S3 error code,
	// or the error's last words). Guarded by mu.
	errKinds map[string]int
	// skipReasons holds the last reason each fault kind could not be applied. Guarded by mu.
	skipReasons map[string]string
}

func (c *chaos) count(m *map[string]int, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil {
		*m = make(map[string]int)
	}
	(*m)[kind]++
}

// op counts one operation and its error (a "not found" is an answer, not an error).
func (c *chaos) op(kind string, err error) error {
	c.count(&c.ops, kind)
	if err != nil && !isNotFound(err) {
		c.count(&c.opErrors, kind)
		c.count(&c.errKinds, kind+": "+errorKind(err))
	}
	return err
}

// errorKind names err briefly: its errno, its S3 error code, or its last words.
func errorKind(err error) string {
	var errno syscall.Errno
	var api smithy.APIError
	switch {
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	case errors.As(err, &api):
		return api.ErrorCode()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// isNotFound reports whether err says the object (S3) or file (mount) does not exist.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	return errors.As(err, &nsk) || errors.Is(err, os.ErrNotExist) || err != nil && strings.Contains(err.Error(), "NoSuchKey")
}

// chaosSeed is FLASHSTOR_CHAOS_SEED if set (to replay a run's random choices: the
// operations, faults and their timing; not the interleaving of the workers and the
// server), else the time.
func chaosSeed(t *testing.T) uint64 {
	s := os.Getenv("FLASHSTOR_CHAOS_SEED")
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("FLASHSTOR_CHAOS_SEED: %v", err)
	}
	return seed
}

func chaosDuration(t *testing.T) time.Duration {
	s := os.Getenv("FLASHSTOR_CHAOS_DURATION")
	if s == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("FLASHSTOR_CHAOS_DURATION: %v", err)
	}
	return d
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos soak runs for a minute; -short leaves it out")
	}
	if os.Geteuid() != 0 {
		t.Skip("the chaos soak mounts (FUSE, tmpfs) and needs root")
	}
	duration := chaosDuration(t)
	c := &chaos{t: t, seed: chaosSeed(t), dir: t.TempDir(), sizes: make(map[uint64]int)}
	t.Logf("chaos seed %d, %v", c.seed, duration)
	for i := 1; i <= 4; i++ {
		c.drives = append(c.drives, filepath.Join(c.dir, fmt.Sprintf("d%d", i)))
	}
	// The last drive is a file system of its own, small enough to fill.
	last := c.drives[3]
	if err := os.Mkdir(last, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", last, "tmpfs", 0, "size=512m"); err != nil {
		t.Fatalf("mounting a tmpfs drive: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(last, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the tmpfs drive: %v", err)
		}
	})
	c.mount = filepath.Join(c.dir, "mnt")
	if err := os.Mkdir(c.mount, 0o755); err != nil {
		t.Fatal(err)
	}
	c.srv = &chaosServer{t: t, mount: c.mount,
		args: []string{"server", "--address", "127.0.0.1:0", "--mount", c.mount, filepath.Join(c.dir, "d{1...4}")}}
	// The drives' redo logs (the server's default) with FLASHSTOR_CHAOS_REDO_LOG: every
	// SIGKILL then restarts through their redo. Without, the plain commit path, and the
	// read-only-drive fault can apply (the log, open for writing, makes the remount EBUSY).
	redo := "--drive-redo-log=false"
	if os.Getenv("FLASHSTOR_CHAOS_REDO_LOG") != "" {
		redo = "--drive-redo-log"
	}
	c.srv.args = append(c.srv.args[:len(c.srv.args)-1], redo, c.srv.args[len(c.srv.args)-1])
	t.Cleanup(func() { c.srv.stop(syscall.SIGTERM) })
	c.srv.start()
	c.up.Store(true)
	ctx := context.Background()
	if _, err := c.srv.s3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(chaosBucket)}); err != nil {
		t.Fatal(err)
	}
	const s3Workers, mountWorkers, perWorker = 4, 2, 6
	for w := range s3Workers + mountWorkers {
		var objs []*object
		for i := range perWorker {
			objs = append(objs, &object{key: fmt.Sprintf("w%d/k%d", w, i), cands: []candidate{absent}})
		}
		c.objects = append(c.objects, objs)
		if w >= s3Workers {
			if err := os.Mkdir(filepath.Join(c.mount, chaosBucket, fmt.Sprintf("w%d", w)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range s3Workers + mountWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(c.seed, uint64(w)))
			for time.Now().Before(deadline) {
				client := c.srv.s3()
				if !c.up.Load() || client == nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if w < s3Workers {
					c.s3Op(ctx, client, r, c.objects[w])
				} else {
					c.mountOp(r, c.objects[w])
				}
			}
		}()
	}
	stop := make(chan struct{})
	injected := make(chan struct{})
	go func() { defer close(injected); c.injectFaults(stop) }()
	wg.Wait()
	close(stop)
	<-injected
	c.verify() // even after failures: the report says what they cost
}

// newContent returns a new content of size bytes, to be written to key.
func (c *chaos) newContent(key string, size int) candidate {
	v := candidate{seed: c.seq.Add(1), size: size}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[uint64]string)
	}
	c.sizes[v.seed], c.keys[v.seed] = size, key
	return v
}

// identify names the content got: a content written so far, whole, or the one whose first
// bytes it has.
func (c *chaos) identify(got []byte) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var prefix []string
	for seed, size := range c.sizes {
		v := candidate{seed: seed, size: size}
		b := v.bytes()
		switch {
		case size == len(got) && bytes.Equal(b, got):
			return fmt.Sprintf("content %d (%d bytes, written to %s)", seed, size, c.keys[seed])
		case len(got) >= 4096 && len(b) >= 4096 && bytes.Equal(b[:4096], got[:4096]):
			same := 0
			for same < min(len(b), len(got)) && b[same] == got[same] {
				same++
			}
			prefix = append(prefix, fmt.Sprintf("the first %d bytes of content %d (%d bytes, written to %s)", same, seed, size, c.keys[seed]))
		}
	}
	if len(prefix) > 0 {
		return strings.Join(prefix, "; ")
	}
	return "no content written"
}

// s3Op runs one random S3 operation on one of the worker's objects.
func (c *chaos) s3Op(ctx context.Context, client *s3.Client, r *rand.Rand, objs []*object) {
	o := objs[r.IntN(len(objs))]
	key := aws.String(o.key)
	bucket := aws.String(chaosBucket)
	switch n := r.IntN(100); {
	case n < 20:
		v := c.newContent(o.key, r.IntN(64<<10))
		c.put(ctx, client, "s3-put-small", o, v)
	case n < 30:
		v := c.newContent(o.key, 1<<20+r.IntN(4<<20))
		c.put(ctx, client, "s3-put-large", o, v)
	case n < 35:
		v := c.newContent(o.key, 5<<20+1+r.IntN(1<<20))
		err := c.op("s3-multipart", multipartPut(ctx, client, o.key, v.bytes()))
		c.record(o, v, err)
	case n < 60:
		g := c.gen.Load()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key})
		var got []byte
		if err == nil {
			got, err = io.ReadAll(out.Body)
			out.Body.Close()
		}
		c.op("s3-get", err)
		c.check("S3 GET", o, got, err, g)
	case n < 70:
		err := c.op("s3-delete", deleteObject(ctx, client, o.key))
		c.record(o, absent, err)
	case n < 85:
		src := objs[r.IntN(len(objs))]
		if src == o {
			return
		}
		g := c.gen.Load()
		_, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: key, CopySource: aws.String(chaosBucket + "/" + src.key)})
		switch c.op("s3-copy", err); {
		case err == nil:
			o.cands = nil
			o.maybe(src.presentCands()...)
		case isNotFound(err) && c.steady(g):
			if !slices.Contains(src.cands, absent) {
				c.t.Errorf("copy from %s: NoSuchKey, but it was written", src.key)
			}
		default:
			o.maybe(src.presentCands()...)
		}
	default:
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
		if c.op("s3-list", err) == nil {
			for _, it := range out.Contents {
				if !c.known(aws.ToString(it.Key)) {
					c.t.Errorf("the listing shows %q, never written", aws.ToString(it.Key))
				}
			}
		}
	}
}

func (c *chaos) put(ctx context.Context, client *s3.Client, kind string, o *object, v candidate) {
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(o.key), Body: bytes.NewReader(v.bytes())})
	c.record(o, v, c.op(kind, err))
}

// record notes a write of v: done if err is nil, perhaps done otherwise.
func (c *chaos) record(o *object, v candidate, err error) {
	if err == nil {
		o.acked(v)
	} else {
		o.maybe(v)
	}
}

// check compares what a read found (err: a not-found error, or a failed read) with the
// object's possible contents.
// g is c.gen before the call.
func (c *chaos) check(what string, o *object, got []byte, err error, g uint64) {
	notFound := isNotFound(err)
	if err != nil && !notFound || !c.steady(g) {
		return // a failed read says nothing of the content
	}
	if _, ok := o.match(got, !notFound); !ok {
		c.t.Errorf("%s %s: found %d bytes (not found: %v) matching none of its possible contents %v (seed and size; -1: absent): %s%s",
			what, o.key, len(got), notFound, o.cands, c.identify(got), c.coreView(o.key))
	}
}

// steady reports whether the server ran, unkilled, since c.gen was g.
func (c *chaos) steady(g uint64) bool { return c.up.Load() && c.gen.Load() == g }

// known reports whether key is one the workers write.
func (c *chaos) known(key string) bool {
	for _, objs := range c.objects {
		for _, o := range objs {
			if o.key == key || strings.HasPrefix(o.key, key) {
				return true
			}
		}
	}
	return false
}

// mountOp runs one random file system call on one of the worker's files in the mount.
func (c *chaos) mountOp(r *rand.Rand, objs []*object) {
	o := objs[r.IntN(len(objs))]
	path := filepath.Join(c.mount, chaosBucket, o.key)
	switch n := r.IntN(100); {
	case n < 35:
		v := c.newContent(o.key, r.IntN(2<<20))
		err := c.op("mount-write", os.WriteFile(path, v.bytes(), 0o644))
		if err != nil {
			o.maybe(candidate{seed: v.seed, size: 0}) // the truncation of the open may have been done
		}
		c.record(o, v, err)
	case n < 65:
		g := c.gen.Load()
		got, err := os.ReadFile(path)
		c.op("mount-read", err)
		c.check("read in the mount", o, got, err, g)
	case n < 85:
		dst := objs[r.IntN(len(objs))]
		if dst == o {
			return
		}
		g := c.gen.Load()
		err := os.Rename(path, filepath.Join(c.mount, chaosBucket, dst.key))
		switch c.op("mount-rename", err); {
		case err == nil:
			dst.cands = nil
			dst.maybe(o.presentCands()...)
			o.acked(absent)
		case errors.Is(err, os.ErrNotExist) && c.steady(g):
			if !slices.Contains(o.cands, absent) {
				c.t.Errorf("rename of %s: ENOENT, but it was written", o.key)
			}
		default:
			dst.maybe(o.presentCands()...)
			o.maybe(absent)
		}
	default:
		g := c.gen.Load()
		err := os.Remove(path)
		switch c.op("mount-delete", err); {
		case err == nil:
			o.acked(absent)
		case errors.Is(err, os.ErrNotExist) && c.steady(g):
			if !slices.Contains(o.cands, absent) {
				c.t.Errorf("delete of %s: ENOENT, but it was written", o.key)
			}
		default:
			o.maybe(absent)
		}
	}
}

// heal runs "flashstor heal" on the stopped deployment and returns its report.
func (c *chaos) heal() string {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"heal", filepath.Join(c.dir, "d{1...4}")}, &out, &errOut); err != nil {
		c.t.Errorf("heal: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	return out.String()
}

// verify stops the server, heals, checks that a second deep heal finds nothing to do,
// restarts it and reads every object through both faces, then prints the report.
func (c *chaos) verify() {
	t := c.t
	c.srv.stop(syscall.SIGTERM)
	first := c.heal()
	if report := c.heal(); !strings.Contains(report, "heal done: 0 objects healed") {
		// The first pass's report too: what it did to the keys the second found incomplete.
		t.Errorf("a second deep heal still found work: a drive was left incomplete:\n%s\nthe first heal's report:\n%s", report, first)
	}
	c.srv.start()
	ctx := context.Background()
	client := c.srv.s3()
	verified, present, lostBytes := 0, make(map[string]bool), 0
	for _, objs := range c.objects {
		for _, o := range objs {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(o.key)})
			var got []byte
			if err == nil {
				got, err = io.ReadAll(out.Body)
				out.Body.Close()
			}
			if err != nil && !isNotFound(err) {
				t.Errorf("final S3 GET %s: %v", o.key, err)
			}
			v, ok := o.match(got, err == nil)
			if !ok {
				for _, cand := range o.presentCands() {
					lostBytes = max(lostBytes, cand.size)
				}
				t.Errorf("final S3 GET %s: %d bytes (found: %v) matching none of %d possible contents", o.key, len(got), err == nil, len(o.cands))
				continue
			}
			fgot, ferr := os.ReadFile(filepath.Join(c.mount, chaosBucket, o.key))
			if ferr != nil && !errors.Is(ferr, os.ErrNotExist) {
				t.Errorf("final read of %s in the mount: %v", o.key, ferr)
			}
			if (ferr == nil) != (v != absent) || ferr == nil && !bytes.Equal(fgot, got) {
				t.Errorf("final read of %s in the mount: %d bytes (found: %v), not what S3 answered (%d bytes, found: %v)", o.key, len(fgot), ferr == nil, len(got), v != absent)
			}
			if v != absent {
				present[o.key] = true
			}
			verified++
		}
	}
	listed := make(map[string]bool)
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(chaosBucket)})
	for i := 0; p.HasMorePages() && i < 100; i++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("final listing: %v", err)
		}
		for _, it := range page.Contents {
			if k := aws.ToString(it.Key); !strings.HasSuffix(k, "/") {
				listed[k] = true
			}
		}
	}
	for k := range present {
		if !listed[k] {
			t.Errorf("final listing misses %s", k)
		}
	}
	for k := range listed {
		if !present[k] {
			t.Errorf("final listing shows %s, which GET does not find", k)
		}
	}
	t.Log(c.report(verified, len(present), lostBytes))
	if t.Failed() {
		t.Logf("server output:\n%s", c.srv.output())
	}
}

// report is the soak's summary.
func (c *chaos) report(verified, present, lostBytes int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos report (seed %d)\n", c.seed)
	table := func(title string, m, errs map[string]int) {
		keys := make([]string, 0, len(m))
		total := 0
		for k, n := range m {
			keys = append(keys, k)
			total += n
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "  %s: %d\n", title, total)
		for _, k := range keys {
			if errs != nil {
				fmt.Fprintf(&b, "    %-18s %6d  (%d failed or unanswered)\n", k, m[k], errs[k])
			} else {
				fmt.Fprintf(&b, "    %-18s %6d\n", k, m[k])
			}
		}
	}
	table("operations", c.ops, c.opErrors)
	table("failed operations by error", c.errKinds, nil)
	table("faults injected", c.faults, nil)
	table("faults not applicable when drawn", c.faultsSkipped, nil)
	for k, why := range c.skipReasons {
		fmt.Fprintf(&b, "    last reason for %s: %s\n", k, why)
	}
	fmt.Fprintf(&b, "  objects verified through S3 and the mount: %d (%d present, %d absent)\n", verified, present, verified-present)
	fmt.Fprintf(&b, "  bytes lost: %d\n", lostBytes)
	return b.String()
}

// multipartPut uploads body in two parts (5 MiB and the rest).
func multipartPut(ctx context.Context, client *s3.Client, key string, body []byte) error {
	bucket := aws.String(chaosBucket)
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{body[:5<<20], body[5<<20:]} {
		n := int32(i + 1)
		p, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: &n, Body: bytes.NewReader(chunk)})
		if err != nil {
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: p.ETag, PartNumber: &n})
	}
	_, err = client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

func deleteObject(ctx context.Context, client *s3.Client, key string) error {
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key)})
	return err
}

// coreView describes what the server holds at key, for a wrong read's message: what an S3
// GET returns now, and each drive's metadata file.
func (c *chaos) coreView(key string) string {
	var b strings.Builder
	if client := c.srv.s3(); client != nil {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(chaosBucket), Key: aws.String(key)})
		if err == nil {
			got, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil {
				err = rerr
			} else {
				fmt.Fprintf(&b, "\n\tS3 GET now: %d bytes, %s", len(got), c.identify(got))
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "\n\tS3 GET now: %v", err)
		}
	}
	for _, d := range c.drives {
		raw, err := os.ReadFile(filepath.Join(d, chaosBucket, key+layout.MetaSuffix))
		if err != nil {
			fmt.Fprintf(&b, "\n\t%s: %v", filepath.Base(d), err)
			continue
		}
		m, err := meta.Unmarshal(raw)
		if err != nil {
			fmt.Fprintf(&b, "\n\t%s: %v", filepath.Base(d), err)
			continue
		}
		fmt.Fprintf(&b, "\n\t%s: version %x mtime %s size %d data %x inline %v", filepath.Base(d), m.VersionID[:4], m.ModTime.Format("15:04:05.000000"), m.Size, m.DataDir[6:10], m.Inline)
	}
	return b.String()
}
