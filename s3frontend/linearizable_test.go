package s3frontend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/lincheck"
)

// TestLinearizable runs eight aws-sdk-go-v2 clients against the real server, on both
// transports, on three hot keys: PutObject plain, with If-None-Match: * and with If-Match,
// GetObject and DeleteObject, bodies inline and staged, a fifth of the puts sent in two
// halves with a pause between, some writes abandoned by their client mid-flight (their
// outcome unknown); and checks that the history is linearizable and every body read whole.
// FLASHSTOR_LIN_OPS=N makes each client do N operations.
//
// A conditional PUT of a large body refused before its body is read (412, 404) can reach
// its client as a reset connection, not as the answer: the server stops reading the body
// (net/http at once, epoll after discarding 1 MiB) while the client still sends. Such an
// operation has an unknown outcome; the log lists them. Any other operation left without
// an answer fails the test.
func TestLinearizable(t *testing.T) {
	def := 100
	if testing.Short() || raceEnabled {
		def = 25
	}
	ops, err := lincheck.OpsPerClient(def)
	if err != nil {
		t.Fatal(err)
	}
	eachTransport(t, func(t *testing.T, e *env) {
		mkbucket(t, e.sdk(), "hot")
		cfg := lincheck.HotKeys(ops)
		res := lincheck.Run(t.Context(), cfg, func(int) lincheck.Store { return sdkStore{c: e.sdk(), bucket: "hot"} })
		res.Check(t, 2*time.Minute, cfg.Need()...)
		for what, n := range res.Tally {
			if strings.HasSuffix(what, " no answer") && !strings.HasPrefix(what, "put if-") {
				t.Errorf("%d of %q: only a conditional PUT refused early may lose its answer", n, what)
			}
		}
	})
}

// sdkStore is a lincheck.Store that goes through aws-sdk-go-v2.
type sdkStore struct {
	c      *s3.Client
	bucket string
}

func (s sdkStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond lincheck.Cond, etag string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size)}
	switch cond {
	case lincheck.IfAbsent:
		in.IfNoneMatch = aws.String("*")
	case lincheck.IfMatch:
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	_, err := s.c.PutObject(ctx, in)
	return layerErr(err)
}

func (s sdkStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, "", layerErr(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", key, err)
	}
	return b, strings.Trim(aws.ToString(out.ETag), `"`), nil
}

func (s sdkStore) Delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	return layerErr(err)
}

// layerErr turns the S3 answers that settle an operation into the object layer's errors
// lincheck knows (412 PreconditionFailed, 404 NoSuchKey), and marks a request that got no
// response because its connection was reset or closed with lincheck.ErrNoAnswer. Anything
// else stays as it is.
func layerErr(err error) error {
	var ae smithy.APIError
	var unsent *smithyhttp.RequestSendError
	if errors.As(err, &unsent) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return fmt.Errorf("%w: %w", lincheck.ErrNoAnswer, err)
	}
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed":
			return fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
		case "NoSuchKey":
			return fmt.Errorf("%w: %w", objstore.ErrObjectNotFound, err)
		}
	}
	return err
}
