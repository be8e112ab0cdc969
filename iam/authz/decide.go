package authz

import (
	"context"
	"unsafe"

	"github.com/flashstor/flashstor/iam/policy"
)

// Query is one authorisation question.
type Query struct {
	// Action is the S3 action ("s3:GetObject").
	Action string
	// Bucket is the bucket ("" for ListBuckets); Key the object key of an object-level
	// action (ObjectLevel), whose resource is "arn:aws:s3:::bucket/key".
	Bucket      string
	Key         string
	ObjectLevel bool
	// Context holds the request's condition keys (aws:SourceIp, s3:prefix...); it is
	// consulted only when a statement has conditions or request variables. May be nil.
	Context policy.Context

	// lay and res are Decide's working memory, kept in the Query (which the caller
	// reuses) so that a decision run per request allocates nothing for them.
	lay layered
	res []byte
}

// Reset clears q for its next question, keeping its working memory.
func (q *Query) Reset() {
	res := q.res
	*q = Query{res: res[:0]}
}

// part is the compiled decision of one policy set (identity, session or bucket) for one
// shape: fixed when no statement depends on the request, else the statements that may
// apply.
type part struct {
	fixed    bool
	decision policy.Decision
	stmts    []bound
}

type bound struct {
	p *policy.Policy
	s *policy.Statement
}

// entry is the cached decision of one shape.
type entry struct {
	identity, session, bucket part
	hasSession                bool
	// final is the decision when all three parts are fixed.
	fixed bool
	final policy.Decision
}

const arnPrefix = "arn:aws:s3:::"

// Decide decides q for c. ctx bounds the read of the bucket's policy on a cache miss.
func (a *Authorizer) Decide(ctx context.Context, c *Caller, q *Query) policy.Decision {
	if c.Root {
		return policy.Allowed
	}
	k := entryKey{action: q.Action, bucket: q.Bucket}
	c.mu.RLock()
	e := c.entries[k]
	c.mu.RUnlock()
	if e == nil {
		a.miss.Add(1)
		e = a.compile(ctx, c, q)
		c.mu.Lock()
		if len(c.entries) < maxEntriesPerCall {
			c.entries[k] = e
		}
		c.mu.Unlock()
	} else {
		a.hits.Add(1)
	}
	if e.fixed {
		return e.final
	}
	q.lay = layered{static: c.static, req: q.Context}
	q.res = append(q.res[:0], arnPrefix...)
	switch {
	case q.ObjectLevel:
		q.res = append(append(append(q.res, q.Bucket...), '/'), q.Key...)
	case q.Bucket == "":
		q.res = append(q.res, '*')
	default:
		q.res = append(q.res, q.Bucket...)
	}
	// The resource views q.res: it lives only as long as this decision.
	r := policy.Request{Action: q.Action, Resource: unsafe.String(unsafe.SliceData(q.res), len(q.res)),
		Principal: c.Principal.ARN, AltPrincipals: c.Principal.AltARNs, PrincipalAccount: c.Principal.Account, Context: &q.lay}
	return combine(e.identity.decide(&r), e.session.decide(&r), e.bucket.decide(&r), e.hasSession)
}

// combine is AWS's rule for one account: Deny anywhere wins; the bucket policy's Allow
// suffices; the identity policies' Allow does when the session policy (if any) allows too.
func combine(id, sess, bucket policy.Decision, hasSession bool) policy.Decision {
	if id == policy.Denied || sess == policy.Denied || bucket == policy.Denied {
		return policy.Denied
	}
	if bucket == policy.Allowed || (id == policy.Allowed && (!hasSession || sess == policy.Allowed)) {
		return policy.Allowed
	}
	return policy.NoMatch
}

func (pt *part) decide(r *policy.Request) policy.Decision {
	if pt.fixed {
		return pt.decision
	}
	d := policy.NoMatch
	for _, b := range pt.stmts {
		if !b.s.Matches(b.p, r) {
			continue
		}
		if b.s.Effect == policy.Deny {
			return policy.Denied
		}
		d = policy.Allowed
	}
	return d
}

// compile builds the entry of q's shape for c.
func (a *Authorizer) compile(ctx context.Context, c *Caller, q *Query) *entry {
	sh := &policy.Shape{Action: q.Action, Principal: c.Principal.ARN, AltPrincipals: c.Principal.AltARNs,
		PrincipalAccount: c.Principal.Account, Static: c.static}
	switch {
	case q.ObjectLevel:
		sh.Prefix = arnPrefix + q.Bucket + "/"
	case q.Bucket == "":
		sh.Exact = arnPrefix + "*"
	default:
		sh.Exact = arnPrefix + q.Bucket
	}
	e := &entry{identity: compilePart(c.Principal.Policies, sh, c.static)}
	if c.sessionPolicy != nil {
		e.hasSession = true
		e.session = compilePart([]*policy.Policy{c.sessionPolicy}, sh, c.static)
	} else {
		e.session = part{fixed: true}
	}
	e.bucket = part{fixed: true}
	if q.Bucket != "" {
		if bp := a.bucketPolicy(ctx, c.gen, q.Bucket); bp != nil {
			e.bucket = compilePart([]*policy.Policy{bp}, sh, c.static)
		}
	}
	if e.identity.fixed && e.session.fixed && e.bucket.fixed {
		e.fixed = true
		e.final = combine(e.identity.decision, e.session.decision, e.bucket.decision, e.hasSession)
	}
	return e
}

func compilePart(pols []*policy.Policy, sh *policy.Shape, static policy.Values) part {
	pt := part{fixed: true}
	for _, p := range pols {
		for i := range p.Statements {
			s := &p.Statements[i]
			switch s.Coverage(p, sh) {
			case policy.Never:
				continue
			case policy.Maybe:
				pt.fixed = false
			case policy.Always:
				if s.Effect == policy.Deny {
					pt.decision = policy.Denied
				} else if pt.decision == policy.NoMatch {
					pt.decision = policy.Allowed
				}
			}
			pt.stmts = append(pt.stmts, bound{p: p, s: s.Bind(p, static)})
		}
	}
	if pt.fixed {
		pt.stmts = nil
	}
	return pt
}

// bucketPolicy returns the bucket's policy through the generation's cache. A policy that
// cannot be read now is not cached: the next request tries again.
func (a *Authorizer) bucketPolicy(ctx context.Context, gen *generation, bucket string) *policy.Policy {
	if a.buckets == nil || gen == nil {
		return nil
	}
	gen.mu.RLock()
	p, ok := gen.buckets[bucket]
	gen.mu.RUnlock()
	if ok {
		return p
	}
	p, err := a.buckets.BucketPolicy(ctx, bucket)
	if err != nil {
		// Unreadable (quorum lost): deny what only the bucket policy would allow, and keep
		// nothing.
		return nil
	}
	gen.mu.Lock()
	if len(gen.buckets) < maxCallers {
		gen.buckets[bucket] = p
	}
	gen.mu.Unlock()
	return p
}

// DecideDirect decides an action on any resource (the IAM and STS APIs) for c from its
// identity and session policies, without the cache.
func (c *Caller) DecideDirect(action, resource string, ctx policy.Context) policy.Decision {
	if c.Root {
		return policy.Allowed
	}
	r := &policy.Request{Action: action, Resource: resource, Principal: c.Principal.ARN, AltPrincipals: c.Principal.AltARNs,
		PrincipalAccount: c.Principal.Account, Context: &layered{static: c.static, req: ctx}}
	id := policy.NoMatch
	for _, p := range c.Principal.Policies {
		id = policy.Combine(id, p.Decide(r))
	}
	sess := policy.NoMatch
	if c.sessionPolicy != nil {
		sess = c.sessionPolicy.Decide(r)
	}
	return combine(id, sess, policy.NoMatch, c.sessionPolicy != nil)
}

// layered resolves a condition key from the caller's static keys, then the request's.
type layered struct {
	static policy.Values
	req    policy.Context
}

func (l *layered) Values(key string) ([]string, bool) {
	if v, ok := l.static[key]; ok {
		return v, true
	}
	if l.req == nil {
		return nil, false
	}
	return l.req.Values(key)
}
