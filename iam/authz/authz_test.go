package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/iam/sts"
)

const rootKey, rootSecret = "ROOTKEY", "root-secret"

// fakeBuckets is a bucket policy source in memory (the real one reads the object layer's
// bucket configuration; the S3 face's tests run it).
type fakeBuckets struct {
	mu    sync.Mutex
	docs  map[string]*policy.Policy
	reads int
}

func (f *fakeBuckets) BucketPolicy(_ context.Context, bucket string) (*policy.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.docs[bucket], nil
}

type fixture struct {
	t       testing.TB
	ids     *identity.Manager
	a       *Authorizer
	buckets *fakeBuckets
	issuer  *sts.Issuer
	now     time.Time
}

func newFixture(t testing.TB) *fixture {
	ids, err := identity.Open(context.Background(), identity.Config{Store: &identity.Memory{}, RootSecret: rootSecret})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ids: ids, buckets: &fakeBuckets{docs: map[string]*policy.Policy{}}, issuer: sts.NewIssuer(rootSecret), now: time.Unix(1_800_000_000, 0)}
	f.a = New(Config{Root: map[string]string{rootKey: rootSecret}, Identities: ids, Issuer: f.issuer, Buckets: f.buckets, Now: func() time.Time { return f.now }})
	return f
}

func (f *fixture) user(name string, docs ...string) identity.AccessKey {
	ctx := context.Background()
	if _, err := f.ids.CreateUser(ctx, name, ""); err != nil {
		f.t.Fatal(err)
	}
	for i, d := range docs {
		if err := f.ids.PutUserPolicy(ctx, name, fmt.Sprint("p", i), d); err != nil {
			f.t.Fatal(err)
		}
	}
	k, err := f.ids.CreateAccessKey(ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

func (f *fixture) decide(key, token string, action, bucket, objKey string, ctx policy.Context) policy.Decision {
	f.t.Helper()
	var ak []byte
	if key != "" {
		ak = []byte(key)
	}
	c, err := f.a.Resolve(ak, []byte(token))
	if err != nil {
		f.t.Fatalf("Resolve: %v", err)
	}
	return f.a.Decide(context.Background(), c, &Query{Action: action, Bucket: bucket, Key: objKey, ObjectLevel: objKey != "", Context: ctx})
}

const prefixPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/${aws:username}/*"},
 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"${aws:username}/*"}}}]}`

func TestPrefixUser(t *testing.T) {
	f := newFixture(t)
	k := f.user("alice", prefixPolicy)
	cases := []struct {
		action, bucket, key string
		ctx                 policy.Context
		want                policy.Decision
	}{
		{"s3:GetObject", "b", "alice/x", nil, policy.Allowed},
		{"s3:PutObject", "b", "alice/d/e", nil, policy.Allowed},
		{"s3:GetObject", "b", "bob/x", nil, policy.NoMatch},
		{"s3:GetObject", "c", "alice/x", nil, policy.NoMatch},
		{"s3:DeleteObject", "b", "alice/x", nil, policy.NoMatch},
		{"s3:ListBucket", "b", "", policy.Values{"s3:prefix": {"alice/"}}, policy.Allowed},
		{"s3:ListBucket", "b", "", policy.Values{"s3:prefix": {"bob/"}}, policy.NoMatch},
		{"s3:ListBucket", "b", "", nil, policy.NoMatch},
	}
	for round := 0; round < 2; round++ { // the second round runs on cached entries
		for _, c := range cases {
			if got := f.decide(k.ID, "", c.action, c.bucket, c.key, c.ctx); got != c.want {
				t.Fatalf("round %d: %s %s/%s: %v, want %v", round, c.action, c.bucket, c.key, got, c.want)
			}
		}
	}
	if hits, _ := f.a.Stats(); hits == 0 {
		t.Fatal("no cache hit in the second round")
	}
}

func TestDenyWinsAndRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	k := f.user("alice", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	if got := f.decide(k.ID, "", "s3:DeleteObject", "b", "k", nil); got != policy.Allowed {
		t.Fatalf("before the deny: %v", got)
	}
	pol, err := f.ids.CreatePolicy(ctx, "nodelete", "", `{"Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ids.AttachUserPolicy(ctx, "alice", f.ids.PolicyARN(&pol), true); err != nil {
		t.Fatal(err)
	}
	if got := f.decide(k.ID, "", "s3:DeleteObject", "b", "k", nil); got != policy.Denied {
		t.Fatalf("deny beside an allow: %v", got)
	}
	if got := f.decide(k.ID, "", "s3:GetObject", "b", "k", nil); got != policy.Allowed {
		t.Fatalf("what the deny leaves: %v", got)
	}
	// Revoking the allow takes effect on the next decision.
	if err := f.ids.DeleteUserPolicy(ctx, "alice", "p0"); err != nil {
		t.Fatal(err)
	}
	if got := f.decide(k.ID, "", "s3:GetObject", "b", "k", nil); got != policy.NoMatch {
		t.Fatalf("after the revoke: %v", got)
	}
	// So does deactivating the key: it no longer resolves nor looks up.
	if err := f.ids.UpdateAccessKey(ctx, "alice", k.ID, identity.StatusInactive); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.a.Lookup([]byte(k.ID)); ok {
		t.Fatal("an inactive key still has a secret")
	}
	if _, err := f.a.Resolve([]byte(k.ID), nil); err == nil {
		t.Fatal("an inactive key still resolves")
	}
}

func TestBucketPolicy(t *testing.T) {
	f := newFixture(t)
	bp, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},
	 {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/secret"}]}`), policy.Bucket, policy.MaxBucketSize)
	if err != nil {
		t.Fatal(err)
	}
	f.buckets.docs["b"] = bp
	k := f.user("alice", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	if got := f.decide("", "", "s3:GetObject", "b", "public/x", nil); got != policy.Allowed {
		t.Fatalf("anonymous public read: %v", got)
	}
	if got := f.decide("", "", "s3:GetObject", "b", "private/x", nil); got != policy.NoMatch {
		t.Fatalf("anonymous private read: %v", got)
	}
	if got := f.decide("", "", "s3:PutObject", "b", "public/x", nil); got != policy.NoMatch {
		t.Fatalf("anonymous write: %v", got)
	}
	if got := f.decide(k.ID, "", "s3:GetObject", "b", "public/secret", nil); got != policy.Denied {
		t.Fatalf("the bucket policy's deny of alice: %v", got)
	}
	if got := f.decide(rootKey, "", "s3:GetObject", "b", "public/secret", nil); got != policy.Allowed {
		t.Fatalf("root: %v", got)
	}
	reads := f.buckets.reads
	f.decide("", "", "s3:GetObject", "b", "public/y", nil)
	if f.buckets.reads != reads {
		t.Fatal("a cached shape read the bucket policy again")
	}
	delete(f.buckets.docs, "b")
	f.a.Invalidate()
	if got := f.decide("", "", "s3:GetObject", "b", "public/x", nil); got != policy.NoMatch {
		t.Fatalf("after the policy's removal: %v", got)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user("alice", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	u, _ := f.ids.GetUser("alice")
	creds, err := f.issuer.Issue(sts.Claims{User: "alice", UserID: u.ID, Issued: f.now.Unix(), Expires: f.now.Add(time.Hour).Unix(),
		Policy: `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := f.a.Lookup([]byte(creds.AccessKeyID)); !ok || s != creds.SecretAccessKey {
		t.Fatal("Lookup of a session key")
	}
	if got := f.decide(creds.AccessKeyID, creds.SessionToken, "s3:GetObject", "b", "k", nil); got != policy.Allowed {
		t.Fatalf("within the session policy: %v", got)
	}
	if got := f.decide(creds.AccessKeyID, creds.SessionToken, "s3:PutObject", "b", "k", nil); got != policy.NoMatch {
		t.Fatalf("outside the session policy: %v", got)
	}
	if _, err := f.a.Resolve([]byte(creds.AccessKeyID), nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("session key without its token: %v", err)
	}
	bad := []byte(creds.SessionToken)
	bad[len(bad)-3] ^= 1
	if _, err := f.a.Resolve([]byte(creds.AccessKeyID), bad); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("tampered token: %v", err)
	}
	f.now = f.now.Add(time.Hour)
	if _, err := f.a.Resolve([]byte(creds.AccessKeyID), []byte(creds.SessionToken)); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("expired token: %v", err)
	}
	f.now = f.now.Add(-time.Minute)
	if err := f.ids.DeleteUserPolicy(ctx, "alice", "p0"); err != nil {
		t.Fatal(err)
	}
	if got := f.decide(creds.AccessKeyID, creds.SessionToken, "s3:GetObject", "b", "k", nil); got != policy.NoMatch {
		t.Fatalf("session after its user lost the policy: %v", got)
	}
	keys, _ := f.ids.ListAccessKeys("alice")
	for _, k := range keys {
		f.ids.DeleteAccessKey(ctx, "alice", k.ID)
	}
	if err := f.ids.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Resolve([]byte(creds.AccessKeyID), []byte(creds.SessionToken)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("session of a deleted user: %v", err)
	}
	if _, err := f.a.Resolve([]byte(rootKey), []byte(creds.SessionToken)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token with the root key: %v", err)
	}
}

// BenchmarkDecideHit is the authorisation step of a request on a keep-alive connection
// whose shape is cached: resolve the caller, decide.
func BenchmarkDecideHit(b *testing.B) {
	for _, bc := range []struct{ name, doc, key string }{
		{"fixed", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`, "any/key"},
		{"prefix", prefixPolicy, "alice/key"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			k := f.user("alice", bc.doc)
			ak := []byte(k.ID)
			q := &Query{Action: "s3:GetObject", Bucket: "b", Key: bc.key, ObjectLevel: true}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := f.a.Resolve(ak, nil)
				if err != nil {
					b.Fatal(err)
				}
				if f.a.Decide(ctx, c, q) != policy.Allowed {
					b.Fatal("denied")
				}
			}
			b.StopTimer()
			hits, misses := f.a.Stats()
			b.ReportMetric(100*float64(hits)/float64(hits+misses), "hit%")
		})
	}
}

// TestConcurrentRevoke: decisions run from many goroutines while the policy is revoked;
// every decision that starts after the revocation has returned is NoMatch.
func TestConcurrentRevoke(t *testing.T) {
	f := newFixture(t)
	k := f.user("alice", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	var revoked atomic.Bool
	var stale atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				after := revoked.Load()
				c, err := f.a.Resolve([]byte(k.ID), nil)
				if err != nil {
					t.Error(err)
					return
				}
				d := f.a.Decide(context.Background(), c, &Query{Action: "s3:GetObject", Bucket: fmt.Sprint("b", (g+i)%3), Key: "k", ObjectLevel: true})
				if after && d == policy.Allowed {
					stale.Add(1)
				}
			}
		}()
	}
	if err := f.ids.DeleteUserPolicy(context.Background(), "alice", "p0"); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	wg.Wait()
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d decisions started after the revocation still allowed", n)
	}
}
