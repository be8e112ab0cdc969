// Package authz is the authorisation decision point of the S3 face: it resolves a verified
// access key (and session token) to its caller, and decides a request against the
// caller's identity policies, its session policy and the bucket's policy, the way AWS
// combines them: an explicit Deny anywhere wins; otherwise the bucket policy's Allow, or
// the identity policies' Allow (within the session policy, for a session), allows; what
// nothing allows is NoMatch, which the face may still open through a canned ACL.
//
// Decisions are cached per caller and per shape (action and bucket): an entry holds the
// decision itself when no statement depends on the key or the request's condition keys,
// else only the statements that may apply, so a hit costs two map lookups under read
// locks. Every change to identities or bucket policies calls Invalidate, which swaps the
// whole cache generation for an empty one (the epoch): no stale Allow outlives the change
// that revoked it.
package authz
