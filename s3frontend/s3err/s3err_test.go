package s3err

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
)

func TestFrom(t *testing.T) {
	cases := []struct {
		err    error
		code   string
		status int
	}{
		{objstore.ErrBucketNotFound, "NoSuchBucket", 404},
		{fmt.Errorf("set 2: %w", objstore.ErrObjectNotFound), "NoSuchKey", 404},
		{objstore.ErrBucketExists, "BucketAlreadyOwnedByYou", 409},
		{objstore.ErrBucketNotEmpty, "BucketNotEmpty", 409},
		{objstore.ErrInvalidBucketName, "InvalidBucketName", 400},
		{objstore.ErrKeyTooLong, "KeyTooLongError", 400},
		{objstore.ErrNameTooLong, "KeyTooLongError", 400},
		{objstore.ErrInvalidObjectName, "InvalidObjectName", 400},
		{objstore.ErrPreconditionFailed, "PreconditionFailed", 412},
		{objstore.ErrIncompleteBody, "IncompleteBody", 400},
		{objstore.ErrEntityTooLarge, "EntityTooLarge", 400},
		{objstore.ErrInvalidRange, "InvalidRange", 416},
		{objstore.ErrNoSuchUpload, "NoSuchUpload", 404},
		{objstore.ErrInvalidPart, "InvalidPart", 400},
		{objstore.ErrInvalidPartOrder, "InvalidPartOrder", 400},
		{objstore.ErrEntityTooSmall, "EntityTooSmall", 400},
		{objstore.ErrInvalidArgument, "InvalidArgument", 400},
		{objstore.ErrReadQuorum, "SlowDown", 503},
		{objstore.ErrWriteQuorum, "SlowDown", 503},
		{objstore.ErrStorageFull, "InsufficientStorage", 507},
		{httpserver.ErrBodyTimeout, "RequestTimeout", 400},
		{context.Canceled, "RequestTimeout", 400},
		{fmt.Errorf("reading: %w", &httpwire.Error{Reason: httpwire.ReasonChunkSize}), "IncompleteBody", 400},
		{fmt.Errorf("%w: %w", httpserver.ErrClientReset, syscall.ECONNRESET), "IncompleteBody", 400},
		{io.ErrUnexpectedEOF, "IncompleteBody", 400},
		{errors.New("disk on fire"), "InternalError", 500},
		{NoSuchKey, "NoSuchKey", 404},
		{fmt.Errorf("wrapped: %w", PreconditionFailed), "PreconditionFailed", 412},
	}
	for _, tc := range cases {
		e := From(tc.err)
		if e.Code != tc.code || e.Status != tc.status {
			t.Errorf("From(%v) = %s %d, want %s %d", tc.err, e.Code, e.Status, tc.code, tc.status)
		}
		if e.Message == "" || http.StatusText(e.Status) == "" {
			t.Errorf("From(%v): message %q status %d", tc.err, e.Message, e.Status)
		}
	}
	if From(nil) != nil {
		t.Error("From(nil) != nil")
	}
}

// TestBodyFault: the body failures of the client's making are told from the server's own.
func TestBodyFault(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", &httpwire.Error{Reason: httpwire.ReasonChunkLine}), true},
		{fmt.Errorf("%w: %w", httpserver.ErrClientReset, syscall.EPIPE), true},
		{fmt.Errorf("x: %w", httpserver.ErrBodyTimeout), true},
		{io.ErrUnexpectedEOF, true},
		{objstore.ErrWriteQuorum, false},
		{errors.New("disk on fire"), false},
	} {
		if got := BodyFault(tc.err); got != tc.want {
			t.Errorf("BodyFault(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
