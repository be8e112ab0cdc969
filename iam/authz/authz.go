package authz

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/iam/sts"
)

// BucketPolicies reads the buckets' policies.
type BucketPolicies interface {
	// BucketPolicy returns the bucket's policy, nil when it has none or does not exist.
	BucketPolicy(ctx context.Context, bucket string) (*policy.Policy, error)
}

// Config configures an Authorizer.
type Config struct {
	// Root maps the root access keys to their secrets: everything is allowed to them.
	Root map[string]string
	// Identities are the IAM identities; nil for a server with the root user only.
	Identities *identity.Manager
	// Issuer checks session tokens; nil refuses them all.
	Issuer *sts.Issuer
	// Buckets reads bucket policies; nil for none.
	Buckets BucketPolicies
	// Now is the clock of session expiry; time.Now when nil.
	Now func() time.Time
}

// The failures of Resolve.
var (
	// ErrInvalidToken: a session token that this deployment did not sign for the key, a
	// token with a long-term key, or a session whose user or role is gone (S3
	// InvalidToken).
	ErrInvalidToken = sts.ErrInvalidToken
	// ErrExpiredToken: a session past its expiry (S3 ExpiredToken).
	ErrExpiredToken = sts.ErrExpiredToken
)

// Bounds of the cache, so that a flood of distinct sessions or buckets cannot grow it
// without end: past them, decisions are made without being kept.
const (
	maxCallers        = 1 << 16
	maxEntriesPerCall = 1 << 12
)

// Authorizer resolves callers and decides requests. It is safe for concurrent use.
type Authorizer struct {
	root    map[string]string
	ids     *identity.Manager
	issuer  *sts.Issuer
	buckets BucketPolicies
	now     func() time.Time
	anon    *identity.Principal

	// gen is the current cache generation; Invalidate replaces it.
	gen   atomic.Pointer[generation]
	epoch atomic.Uint64
	hits  atomic.Uint64
	miss  atomic.Uint64
}

// generation is the cache of one epoch.
type generation struct {
	mu      sync.RWMutex
	callers map[string]*Caller // GUARDED_BY(mu); by access key, "" for anonymous
	// buckets caches the bucket policies read in this epoch (nil: none).
	buckets map[string]*policy.Policy // GUARDED_BY(mu)
}

func newGeneration() *generation {
	return &generation{callers: map[string]*Caller{}, buckets: map[string]*policy.Policy{}}
}

// New returns an Authorizer; it subscribes to the identities' changes.
func New(cfg Config) *Authorizer {
	a := &Authorizer{root: cfg.Root, ids: cfg.Identities, issuer: cfg.Issuer, buckets: cfg.Buckets, now: cfg.Now,
		anon: &identity.Principal{Kind: identity.Anonymous, ARN: "*"}}
	if a.now == nil {
		a.now = time.Now
	}
	a.gen.Store(newGeneration())
	if a.ids != nil {
		a.ids.Subscribe(a.Invalidate)
	}
	return a
}

// Invalidate drops every cached caller, decision and bucket policy: the next request of
// every connection decides anew. Call it after any change to identities (the Manager
// does) or to a bucket's policy, and after a bucket is created or deleted.
func (a *Authorizer) Invalidate() {
	a.gen.Store(newGeneration())
	a.epoch.Add(1)
}

// Epoch counts the invalidations.
func (a *Authorizer) Epoch() uint64 { return a.epoch.Load() }

// Stats returns the decision cache's hits and misses since the start.
func (a *Authorizer) Stats() (hits, misses uint64) { return a.hits.Load(), a.miss.Load() }

// Lookup implements sigv4.CredentialStore: root keys, active user keys and session keys
// (whose secret is derived from the key id; the token is checked by Resolve).
func (a *Authorizer) Lookup(accessKey []byte) (string, bool) {
	if s, ok := a.root[string(accessKey)]; ok {
		return s, true
	}
	if a.ids != nil {
		if s, _, ok := a.ids.Snapshot().Lookup(accessKey); ok {
			return s, true
		}
	}
	if a.issuer != nil && sts.IsSessionKey(accessKey) {
		return a.issuer.Secret(accessKey), true
	}
	return "", false
}

// Caller is a resolved principal with its cached decisions.
type Caller struct {
	Principal *identity.Principal
	// Root: everything is allowed.
	Root bool
	// Session holds the claims of a session token; nil for long-term keys.
	Session *sts.Claims
	token   []byte
	expires time.Time
	// sessionPolicy limits a session to what it allows too; nil for none.
	sessionPolicy *policy.Policy
	static        policy.Values

	gen     *generation
	mu      sync.RWMutex
	entries map[entryKey]*entry // GUARDED_BY(mu)
}

type entryKey struct {
	action, bucket string
}

// Resolve returns the caller of a request whose signature by accessKey was verified (nil
// accessKey: anonymous), with its session token if it sent one.
func (a *Authorizer) Resolve(accessKey, token []byte) (*Caller, error) {
	gen := a.gen.Load()
	gen.mu.RLock()
	c := gen.callers[string(accessKey)]
	gen.mu.RUnlock()
	if c != nil {
		switch {
		case c.Session == nil && len(token) > 0:
			return nil, ErrInvalidToken
		case c.Session != nil && !bytes.Equal(c.token, token):
			c = nil // another token for the same key: decided below, not cached
		case c.Session != nil && !a.now().Before(c.expires):
			return nil, ErrExpiredToken
		default:
			return c, nil
		}
	}
	c, err := a.resolve(accessKey, token)
	if err != nil {
		return nil, err
	}
	c.gen = gen
	gen.mu.Lock()
	if cur := gen.callers[string(accessKey)]; cur == nil && len(gen.callers) < maxCallers {
		gen.callers[string(accessKey)] = c
	}
	gen.mu.Unlock()
	return c, nil
}

func (a *Authorizer) resolve(accessKey, token []byte) (*Caller, error) {
	if len(accessKey) == 0 {
		if len(token) > 0 {
			return nil, ErrInvalidToken
		}
		return a.newCaller(a.anon), nil
	}
	if _, ok := a.root[string(accessKey)]; ok {
		if len(token) > 0 {
			return nil, ErrInvalidToken
		}
		c := a.newCaller(&identity.Principal{Kind: identity.Root, ARN: a.rootARN(), Account: a.account()})
		c.Root = true
		return c, nil
	}
	if a.ids != nil {
		if _, p, ok := a.ids.Snapshot().Lookup(accessKey); ok {
			if len(token) > 0 {
				return nil, ErrInvalidToken
			}
			return a.newCaller(p), nil
		}
	}
	if a.issuer == nil || !sts.IsSessionKey(accessKey) {
		return nil, errors.New("authz: unknown access key") // sigv4 refused it already
	}
	if len(token) == 0 {
		return nil, ErrInvalidToken
	}
	claims, err := a.issuer.Check(token, accessKey, a.now())
	if err != nil {
		return nil, err
	}
	p, err := a.sessionPrincipal(&claims)
	if err != nil {
		return nil, err
	}
	c := a.newCaller(p)
	c.Root = claims.Root
	c.Session, c.token, c.expires = &claims, bytes.Clone(token), time.Unix(claims.Expires, 0)
	if claims.Policy != "" {
		if c.sessionPolicy, err = policy.Parse([]byte(claims.Policy), policy.Identity, 0); err != nil {
			return nil, ErrInvalidToken
		}
	}
	return c, nil
}

// sessionPrincipal is the principal a session acts as, if its user or role still exists
// as the same entity.
func (a *Authorizer) sessionPrincipal(c *sts.Claims) (*identity.Principal, error) {
	if c.Root {
		return &identity.Principal{Kind: identity.Root, ARN: a.rootARN(), Account: a.account()}, nil
	}
	if a.ids == nil {
		return nil, ErrInvalidToken
	}
	snap := a.ids.Snapshot()
	if c.Role != "" {
		role, _, rp, ok := snap.Role(c.Role)
		if !ok || role.ID != c.RoleID {
			return nil, ErrInvalidToken
		}
		return &identity.Principal{Kind: identity.SessionKind,
			ARN:     "arn:aws:sts::" + snap.Account() + ":assumed-role/" + c.Role + "/" + c.SessionName,
			AltARNs: []string{rp.ARN}, Account: snap.Account(), ID: role.ID + ":" + c.SessionName, Policies: rp.Policies}, nil
	}
	u, ok := snap.UserByID(c.UserID)
	if !ok || u.Name != c.User {
		return nil, ErrInvalidToken
	}
	return u, nil
}

func (a *Authorizer) account() string {
	if a.ids != nil {
		return a.ids.Account()
	}
	return "000000000000"
}

func (a *Authorizer) rootARN() string { return "arn:aws:iam::" + a.account() + ":root" }

func (a *Authorizer) newCaller(p *identity.Principal) *Caller {
	c := &Caller{Principal: p, entries: map[entryKey]*entry{}, static: policy.Values{}}
	if p.Name != "" {
		c.static["aws:username"] = []string{p.Name}
	}
	if p.ID != "" {
		c.static["aws:userid"] = []string{p.ID}
	}
	if p.Kind != identity.Anonymous {
		c.static["aws:principalarn"] = []string{p.ARN}
		c.static["aws:principalaccount"] = []string{p.Account}
	}
	c.static["aws:principaltype"] = []string{principalType(p.Kind)}
	return c
}

func principalType(k identity.Kind) string {
	switch k {
	case identity.Root:
		return "Account"
	case identity.UserKind:
		return "User"
	case identity.SessionKind:
		return "AssumedRole"
	}
	return "Anonymous"
}
