package objtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// A write holds its key's lock only to commit: these tests stop a writer's body halfway
// (the layer has read half of it) and check that the key's readers, lister and other
// writers are answered meanwhile, and that preconditions are judged at the commit.

// commitSizes are an object small enough to be stored inline and one that is staged on the
// drives.
var commitSizes = []struct {
	name string
	size int
}{{"small", 40 << 10}, {"large", 3<<20 + 17}}

// pendingPut is a PutObject whose body is halfway through.
type pendingPut struct {
	content []byte
	pw      *io.PipeWriter
	done    chan struct{}
	info    objstore.ObjectInfo
	err     error
}

// startPut starts a PutObject of content and returns once the layer has read half of it.
func startPut(t *testing.T, l objstore.ObjectLayer, b, k string, content []byte, opts objstore.PutOptions) *pendingPut {
	t.Helper()
	pr, pw := io.Pipe()
	p := &pendingPut{content: content, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.info, p.err = l.PutObject(ctx(t), b, k, pr, int64(len(content)), opts)
		pr.CloseWithError(io.ErrClosedPipe) // a writer still sending learns the put ended
	}()
	t.Cleanup(func() {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-p.done
	})
	sendHalf(t, pw, content, k)
	return p
}

// sendHalf writes the first half of content to pw and returns once the layer has read it
// (a pipe's Write returns when its reader has taken every byte). A layer that does not read
// a body before it has a lock it must wait for fails the test, rather than hang it.
func sendHalf(t *testing.T, pw *io.PipeWriter, content []byte, what string) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		_, err := pw.Write(content[:len(content)/2])
		sent <- err
	}()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("sending the first half of %s: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the layer did not read the first half of %s: does it wait for a lock before reading?", what)
	}
}

// finish sends the rest of the body and waits for the put's outcome.
func (p *pendingPut) finish(t *testing.T) (objstore.ObjectInfo, error) {
	t.Helper()
	if _, err := p.pw.Write(p.content[len(p.content)/2:]); err != nil {
		t.Fatalf("sending the second half: %v", err)
	}
	p.pw.Close()
	<-p.done
	return p.info, p.err
}

// answered runs op with a deadline and fails the test if op is still waiting then: with the
// writer's body stopped, an op that waits for the writer's lock never returns by itself.
func answered(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx(t), 20*time.Second)
	defer cancel()
	if err := op(c); err != nil {
		t.Fatalf("%s while a write of the key is halfway: %v", what, err)
	}
}

func testWriterDoesNotBlock(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for i, sz := range commitSizes {
		t.Run(sz.name, func(t *testing.T) {
			k := "hot/" + sz.name
			old := data(sz.size, uint64(10+i))
			put(t, l, b, k, old)
			slow := startPut(t, l, b, k, data(sz.size, uint64(20+i)), objstore.PutOptions{})

			answered(t, "StatObject", func(c context.Context) error {
				info, err := l.StatObject(c, b, k)
				if err == nil && info.ETag != md5hex(old) {
					t.Errorf("StatObject: ETag %s, want the old object's %s", info.ETag, md5hex(old))
				}
				return err
			})
			answered(t, "OpenObject", func(c context.Context) error {
				h, err := l.OpenObject(c, b, k)
				if err != nil {
					return err
				}
				defer h.Close()
				var got bytes.Buffer
				if _, err := h.WriteRange(c, &got, 0, h.Info().Size); err != nil {
					return err
				}
				if !bytes.Equal(got.Bytes(), old) {
					t.Errorf("read %d bytes that are not the old object", got.Len())
				}
				return nil
			})
			answered(t, "ListObjects", func(c context.Context) error {
				res, err := l.ListObjects(c, b, objstore.ListOptions{Prefix: "hot/"})
				if err == nil && !hasKey(res, k) {
					t.Errorf("listing of hot/ lacks %s: %+v", k, res.Objects)
				}
				return err
			})
			other := data(sz.size/3, uint64(30+i))
			answered(t, "a second PutObject", func(c context.Context) error {
				_, err := l.PutObject(c, b, k, bytes.NewReader(other), int64(len(other)), objstore.PutOptions{})
				return err
			})
			checkContent(t, l, b, k, other)

			// The stopped writer commits last, so it wins.
			info, err := slow.finish(t)
			must(t, "the slow PutObject", err)
			if info.ETag != md5hex(slow.content) {
				t.Fatalf("slow PutObject: ETag %s, want %s", info.ETag, md5hex(slow.content))
			}
			checkContent(t, l, b, k, slow.content)
		})
	}
}

func hasKey(res objstore.ListResult, key string) bool {
	for _, o := range res.Objects {
		if o.Key == key {
			return true
		}
	}
	return false
}

func testPreconditionsAtCommit(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	for i, sz := range commitSizes {
		t.Run(sz.name, func(t *testing.T) {
			// Two creators of one absent key: both start, the first to commit wins.
			k := "create/" + sz.name
			first := startPut(t, l, b, k, data(sz.size, uint64(40+i)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfNoneMatch: true}})
			second := startPut(t, l, b, k, data(sz.size, uint64(50+i)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfNoneMatch: true}})
			_, err := second.finish(t)
			must(t, "the creator that commits first", err)
			_, err = first.finish(t)
			mustIs(t, "the creator that commits second", err, objstore.ErrPreconditionFailed)
			checkContent(t, l, b, k, second.content)

			// If-Match against the version current at the start loses to an overwrite
			// committed meanwhile.
			k = "match/" + sz.name
			v1 := put(t, l, b, k, data(sz.size, uint64(60+i)))
			cond := startPut(t, l, b, k, data(sz.size, uint64(70+i)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfMatch: v1.ETag}})
			v2 := put(t, l, b, k, data(sz.size/2, uint64(80+i)))
			_, err = cond.finish(t)
			mustIs(t, "If-Match of a replaced version", err, objstore.ErrPreconditionFailed)
			checkContent(t, l, b, k, data(sz.size/2, uint64(80+i)))

			// If-Match of the version current at the commit succeeds.
			cond = startPut(t, l, b, k, data(sz.size, uint64(90+i)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfMatch: v2.ETag}})
			_, err = cond.finish(t)
			must(t, "If-Match of the current version", err)
			checkContent(t, l, b, k, cond.content)
		})
	}
}

// pendingPart is a PutObjectPart whose body is halfway through.
type pendingPart struct {
	content []byte
	pw      *io.PipeWriter
	done    chan struct{}
	err     error
}

func startPart(t *testing.T, l objstore.ObjectLayer, b, k, id string, n int, content []byte) *pendingPart {
	t.Helper()
	pr, pw := io.Pipe()
	p := &pendingPart{content: content, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_, p.err = l.PutObjectPart(ctx(t), b, k, id, n, pr, int64(len(content)), objstore.PartOptions{})
		pr.CloseWithError(io.ErrClosedPipe)
	}()
	t.Cleanup(func() {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-p.done
	})
	sendHalf(t, pw, content, fmt.Sprintf("part %d", n))
	return p
}

func (p *pendingPart) finish(t *testing.T) error {
	t.Helper()
	if _, err := p.pw.Write(p.content[len(p.content)/2:]); err != nil {
		t.Fatalf("sending the second half: %v", err)
	}
	p.pw.Close()
	<-p.done
	return p.err
}

func testPartDoesNotBlockUpload(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	k := "parts/object"
	id, err := l.NewMultipartUpload(ctx(t), b, k, objstore.PutOptions{})
	must(t, "NewMultipartUpload", err)
	p1 := data(1<<20, 101)
	info, err := l.PutObjectPart(ctx(t), b, k, id, 1, bytes.NewReader(p1), int64(len(p1)), objstore.PartOptions{})
	must(t, "PutObjectPart 1", err)

	// A part halfway through holds up neither the listing of parts nor the completion,
	// and finds its upload gone when it ends.
	slow := startPart(t, l, b, k, id, 2, data(1<<20, 102))
	answered(t, "ListObjectParts", func(c context.Context) error {
		_, err := l.ListObjectParts(c, b, k, id, 0, 0)
		return err
	})
	answered(t, "CompleteMultipartUpload", func(c context.Context) error {
		_, err := l.CompleteMultipartUpload(c, b, k, id, []objstore.CompletePart{{Number: 1, ETag: info.ETag}}, objstore.CompleteOptions{})
		return err
	})
	mustIs(t, "a part of a completed upload", slow.finish(t), objstore.ErrNoSuchUpload)
	checkContent(t, l, b, k, p1)

	// The same with an abort.
	id, err = l.NewMultipartUpload(ctx(t), b, k, objstore.PutOptions{})
	must(t, "NewMultipartUpload", err)
	slow = startPart(t, l, b, k, id, 1, data(1<<20, 103))
	answered(t, "AbortMultipartUpload", func(c context.Context) error {
		return l.AbortMultipartUpload(c, b, k, id)
	})
	mustIs(t, "a part of an aborted upload", slow.finish(t), objstore.ErrNoSuchUpload)
	_, err = l.ListObjectParts(ctx(t), b, k, id, 0, 0)
	mustIs(t, "ListObjectParts of the aborted upload", err, objstore.ErrNoSuchUpload)
	checkContent(t, l, b, k, p1)
}
