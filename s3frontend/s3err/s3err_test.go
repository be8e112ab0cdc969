package s3err

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/httpserver"
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
