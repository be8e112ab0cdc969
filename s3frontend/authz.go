package s3frontend

import (
	"context"
	"errors"

	"github.com/flashstor/flashstor/iam/authz"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// Authorisation happens in two places. authorize, once the caller is known and before
// the operation runs, asks the policies (iam/authz: the caller's identity and session
// policies and the bucket's policy, through the decision cache) about the operation's
// action; an explicit Deny refuses, an Allow lets it run, and when nothing matches the
// canned ACLs may still open a read: the bucket's for listing, the object's (which only
// the object read knows) for GET and HEAD. objectAccess, in the object reads, finishes
// the decisions that needed the object: its ACL, its tags (s3:ExistingObjectTag), and
// whether a missing key may be told (only to who may list the bucket, as S3 does).

// authorize decides the routed operation for c.caller; nil lets it run.
func (c *call) authorize() error {
	if c.caller.Root {
		return nil
	}
	act := opActions[c.route.Op]
	act.action = c.action()
	if act.action == "" {
		if c.anonymous {
			return c.denied() // DeleteObjects: anonymous batches are refused before the body
		}
		return nil // decided per key by the handler (DeleteObjects)
	}
	switch c.decide(act.action, c.bucket, c.key, act.object) {
	case policy.Denied:
		return c.denied()
	case policy.Allowed:
		if c.pctx.askedTags {
			c.aclOnly = false
			c.needTags = true
		}
		c.policyAllowed = true
		return nil
	}
	if c.pctx.askedTags && (c.route.Op == router.OpGetObject || c.route.Op == router.OpHeadObject) {
		c.needTags = true
	}
	switch c.route.Op {
	case router.OpListObjects, router.OpListObjectsV2, router.OpListObjectVersions, router.OpHeadBucket:
		if c.aclGrantsRead(c.bucketACL()) {
			return nil
		}
	case router.OpGetObject, router.OpHeadObject:
		c.aclOnly = true // the object's ACL decides, in objectAccess
		return nil
	}
	return c.denied()
}

// denied is the AccessDenied of a policy decision, counted as such.
func (c *call) denied() error {
	c.policyDenied = true
	return s3err.AccessDenied
}

// decide asks the policies about action on bucket (and key, for an object action).
func (c *call) decide(action, bucket, key string, object bool) policy.Decision {
	q := &c.authq
	q.Reset()
	q.Action, q.Bucket, q.Key, q.ObjectLevel, q.Context = action, bucket, key, object, &c.pctx
	return c.h.authz.Decide(c.readContext(), c.caller, q)
}

// mayDelete reports whether DeleteObjects may delete key (s3:DeleteObject of each key;
// s3:DeleteObjectVersion of each one that names a version).
func (c *call) mayDelete(key, versionID string) bool {
	action := "s3:DeleteObject"
	if versionID != "" {
		action = "s3:DeleteObjectVersion"
	}
	return c.caller.Root || c.decide(action, c.bucket, key, true) == policy.Allowed
}

// mayBypassGovernance reports whether the caller may lift governance retention of key
// (s3:BypassGovernanceRetention).
func (c *call) mayBypassGovernance(key string) bool {
	return c.caller.Root || c.decide("s3:BypassGovernanceRetention", c.bucket, key, true) == policy.Allowed
}

// mayReadSource decides the s3:GetObject a copy needs on its source.
func (c *call) mayReadSource(bucket, key string) error {
	if c.caller.Root {
		return nil
	}
	if c.decide("s3:GetObject", bucket, key, true) != policy.Allowed {
		return c.denied()
	}
	return nil
}

// aclGrantsRead reports whether a canned ACL lets the caller read: public-read for
// everyone, authenticated-read for any signed caller.
func (c *call) aclGrantsRead(canned string) bool {
	if isPublicRead(canned) {
		return true
	}
	return canned == "authenticated-read" && c.caller.Principal.Kind != identity.Anonymous
}

// bucketACL returns the bucket's canned ACL; "" (private) when it cannot be read.
func (c *call) bucketACL() string {
	if c.h.configs == nil {
		return ""
	}
	cfg, err := c.h.configs.BucketConfig(c.context(), c.bucket)
	if err != nil {
		return ""
	}
	return cfg[objstore.BucketConfigACL]
}

// mayList reports whether the caller may list the bucket: it may be told that a key is
// missing.
func (c *call) mayList() bool {
	if c.caller.Root {
		return true
	}
	switch c.decide("s3:ListBucket", c.bucket, "", false) {
	case policy.Allowed:
		return true
	case policy.Denied:
		return false
	}
	return c.aclGrantsRead(c.bucketACL())
}

// objectAccess finishes the decision of an object read from the object's information
// (or the error reading it): allowed (nil), AccessDenied, or the read's own error
// (NoSuchKey only for a caller that may list the bucket).
func (c *call) objectAccess(info objstore.ObjectInfo, readErr error) error {
	if c.caller == nil || c.caller.Root {
		return readErr
	}
	if readErr != nil {
		if errors.Is(readErr, objstore.ErrObjectNotFound) {
			if c.mayList() {
				return readErr
			}
			return c.denied()
		}
		if c.aclOnly || c.needTags {
			return c.denied()
		}
		return readErr
	}
	if c.needTags {
		c.pctx.tags, c.pctx.haveTags = objectTags(info), true
		switch c.decide(opActions[c.route.Op].action, c.bucket, c.key, true) {
		case policy.Denied:
			return c.denied()
		case policy.Allowed:
			c.aclOnly = false
		default:
			c.aclOnly = true
		}
	}
	if c.aclOnly && !c.aclGrantsRead(info.Metadata[mdACL]) {
		return c.denied()
	}
	if c.anonymous {
		for i := 0; i < c.query.Len(); i++ {
			if hasPrefixFold(c.query.Name(i), "response-") {
				return errAnonymousOverrides
			}
		}
	}
	return nil
}

// objectTags decodes the object's tags for s3:ExistingObjectTag; none when unreadable.
func objectTags(info objstore.ObjectInfo) map[string]string {
	tags, err := decodeTags(info.Metadata[mdTagging])
	if err != nil || len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// errAnonymousOverrides answers an anonymous GET with response-* overrides, as S3 does:
// only a signed request may choose the headers of the response.
var errAnonymousOverrides = s3err.InvalidRequest.With("Request specific response headers cannot be used for anonymous GET requests.")

// BucketPolicy implements authz.BucketPolicies: the bucket's stored policy, parsed.
func (h *Handler) BucketPolicy(ctx context.Context, bucket string) (*policy.Policy, error) {
	if h.configs == nil {
		return nil, nil
	}
	cfg, err := h.configs.BucketConfig(ctx, bucket)
	if errors.Is(err, objstore.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	doc := cfg[objstore.BucketConfigPolicy]
	if doc == "" {
		return nil, nil
	}
	p, err := policy.Parse([]byte(doc), policy.Bucket, 0)
	if err != nil {
		// Stored by PutBucketPolicy, which parsed it: a record damaged by hand. It is
		// left out of the decisions (not cached, so logged at each decision's miss).
		h.log.Error("s3: stored bucket policy does not parse", "bucket", bucket, "err", err)
		return nil, err
	}
	return p, nil
}

// Authorizer returns the handler's decision point (its cache statistics, its epoch).
func (h *Handler) Authorizer() *authz.Authorizer { return h.authz }
