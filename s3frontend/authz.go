package s3frontend

import (
	"errors"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// access is one question to the authoriser: may this principal run this operation on this
// resource? The resource's ACLs are filled in by whoever asks, from what it has read.
type access struct {
	// anonymous is a request without authentication; otherwise the principal is the root
	// user, the only one there is.
	anonymous bool
	op        router.Op
	// bucketACL and objectACL are the canned ACLs of the bucket and of the object ("" for
	// private, or not consulted).
	bucketACL, objectACL string
}

// allow is the authorisation decision point: every request is allowed or refused here
// once its principal is known (serve asks for the bucket operations, the object reads ask
// again once they hold the object's metadata). Today the answer comes from the canned
// ACLs: the root user may do everything; an anonymous client may list a bucket (and head
// it) whose ACL grants AllUsers READ, and read an object whose ACL does. An IAM or bucket
// policy engine takes this function's place, with the same inputs and more.
func allow(a access) bool {
	if !a.anonymous {
		return true
	}
	switch a.op {
	case router.OpListObjects, router.OpListObjectsV2, router.OpListObjectVersions, router.OpHeadBucket:
		return isPublicRead(a.bucketACL)
	case router.OpGetObject, router.OpHeadObject:
		return isPublicRead(a.objectACL)
	}
	return false
}

// anonymousMayTry reports whether an unauthenticated request may go on to its operation:
// a bucket operation the bucket's ACL allows, or an object read, which its handler decides
// once it has the object's ACL (objectAccess). Anything else is refused at once, before
// its body is read.
func (c *call) anonymousMayTry(authErr error) bool {
	if sigv4.FailureOf(authErr) != sigv4.FailMissingAuth || c.h.configs == nil {
		return false
	}
	a := access{anonymous: true, op: c.route.Op}
	switch a.op {
	case router.OpGetObject, router.OpHeadObject:
		return true
	case router.OpListObjects, router.OpListObjectsV2, router.OpListObjectVersions, router.OpHeadBucket:
		a.bucketACL = c.bucketACL()
		return allow(a)
	}
	return false
}

// bucketACL returns the bucket's canned ACL; "" (private) when it cannot be read.
func (c *call) bucketACL() string {
	cfg, err := c.h.configs.BucketConfig(c.context(), string(c.route.Bucket))
	if err != nil {
		return ""
	}
	return cfg[objstore.BucketConfigACL]
}

// objectAccess decides an anonymous object read from the object's information (or the
// error reading it): allowed, AccessDenied, or the read's own error (NoSuchKey) when the
// bucket lets the client list it, as S3 tells a missing key only to who may list.
func (c *call) objectAccess(info objstore.ObjectInfo, readErr error) error {
	if !c.anonymous {
		return readErr
	}
	if readErr != nil {
		if errors.Is(readErr, objstore.ErrObjectNotFound) && allow(access{anonymous: true, op: router.OpListObjects, bucketACL: c.bucketACL()}) {
			return readErr
		}
		return s3err.AccessDenied
	}
	if !allow(access{anonymous: true, op: c.route.Op, objectACL: info.Metadata[mdACL]}) {
		return s3err.AccessDenied
	}
	for i := 0; i < c.query.Len(); i++ {
		if hasPrefixFold(c.query.Name(i), "response-") {
			return errAnonymousOverrides
		}
	}
	return nil
}

// errAnonymousOverrides answers an anonymous GET with response-* overrides, as S3 does:
// only a signed request may choose the headers of the response.
var errAnonymousOverrides = s3err.InvalidRequest.With("Request specific response headers cannot be used for anonymous GET requests.")
