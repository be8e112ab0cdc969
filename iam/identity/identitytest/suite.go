// Package identitytest is the conformance suite of identity.Store implementations: the
// store's own contract (revisions, durability across a reopen) and the identity
// semantics a Manager over it must keep (IAM's errors, sealed secrets, inactive keys).
package identitytest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/iam/identity"
)

// Factory returns a fresh, empty store; reopen returns a second handle on the same
// stored state (a restarted process), or the same store when it cannot.
type Factory func(t *testing.T) (store identity.Store, reopen func() identity.Store)

const rootSecret = "conformance-root-secret"

// Run runs the suite against the stores of newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Revisions", testRevisions},
		{"UsersAndKeys", testUsersAndKeys},
		{"Reopen", testReopen},
		{"SecretsSealed", testSecretsSealed},
		{"RootSecretChange", testRootSecretChange},
		{"PoliciesAndGroups", testPoliciesAndGroups},
		{"Epoch", testEpoch},
		{"Quota", testQuota},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func open(t *testing.T, s identity.Store, secret string) *identity.Manager {
	t.Helper()
	m, err := identity.Open(context.Background(), identity.Config{Store: s, RootSecret: secret})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func wantCode(t *testing.T, err error, kind *identity.Error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %s", err, kind.Code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testRevisions(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	doc, rev, err := s.Load(ctx)
	must(t, err)
	if doc != nil || rev != 0 {
		t.Fatalf("empty store: Load = %q, %d", doc, rev)
	}
	r1, err := s.Save(ctx, []byte(`{"a":1}`), 0)
	must(t, err)
	if _, err := s.Save(ctx, []byte(`{"a":2}`), rev); !errors.Is(err, identity.ErrRevision) {
		t.Fatalf("Save from a stale revision: %v, want ErrRevision", err)
	}
	doc, rev, err = s.Load(ctx)
	must(t, err)
	if string(doc) != `{"a":1}` || rev != r1 {
		t.Fatalf("Load = %q, %d; want the first save, %d", doc, rev, r1)
	}
}

func testUsersAndKeys(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	m := open(t, s, rootSecret)
	u, err := m.CreateUser(ctx, "alice", "")
	must(t, err)
	if u.Path != "/" || !strings.HasPrefix(u.ID, "AIDA") {
		t.Fatalf("user %+v", u)
	}
	_, err = m.CreateUser(ctx, "alice", "")
	wantCode(t, err, identity.ErrEntityExists)
	_, err = m.CreateUser(ctx, "bad name", "")
	wantCode(t, err, identity.ErrValidation)
	_, err = m.GetUser("bob")
	wantCode(t, err, identity.ErrNoSuchEntity)

	k1, err := m.CreateAccessKey(ctx, "alice")
	must(t, err)
	_, err = m.CreateAccessKey(ctx, "alice")
	must(t, err)
	_, err = m.CreateAccessKey(ctx, "alice")
	wantCode(t, err, identity.ErrLimitExceeded)
	secret, p, ok := m.Snapshot().Lookup([]byte(k1.ID))
	if !ok || secret != k1.Secret || p.Name != "alice" {
		t.Fatalf("Lookup of a new key: %v %v", ok, p)
	}
	must(t, m.UpdateAccessKey(ctx, "alice", k1.ID, identity.StatusInactive))
	if _, _, ok := m.Snapshot().Lookup([]byte(k1.ID)); ok {
		t.Fatal("an inactive key still resolves")
	}
	wantCode(t, m.UpdateAccessKey(ctx, "alice", k1.ID, "Paused"), identity.ErrValidation)
	must(t, m.UpdateAccessKey(ctx, "alice", k1.ID, identity.StatusActive))
	if _, _, ok := m.Snapshot().Lookup([]byte(k1.ID)); !ok {
		t.Fatal("a reactivated key does not resolve")
	}
	wantCode(t, m.DeleteUser(ctx, "alice"), identity.ErrDeleteConflict)
	keys, err := m.ListAccessKeys("alice")
	must(t, err)
	for _, k := range keys {
		if k.Secret != "" || k.Sealed != "" {
			t.Fatal("ListAccessKeys shows a secret")
		}
		must(t, m.DeleteAccessKey(ctx, "alice", k.ID))
	}
	wantCode(t, m.DeleteAccessKey(ctx, "alice", k1.ID), identity.ErrNoSuchEntity)
	if _, _, ok := m.Snapshot().Lookup([]byte(k1.ID)); ok {
		t.Fatal("a deleted key still resolves")
	}
	must(t, m.DeleteUser(ctx, "alice"))
	if len(m.ListUsers("/")) != 0 {
		t.Fatal("a deleted user is listed")
	}
}

// userWithKey creates user name at path with one access key.
func userWithKey(t *testing.T, m *identity.Manager, name, path string) identity.AccessKey {
	t.Helper()
	_, err := m.CreateUser(context.Background(), name, path)
	must(t, err)
	k, err := m.CreateAccessKey(context.Background(), name)
	must(t, err)
	return k
}

func testReopen(t *testing.T, f Factory) {
	ctx := context.Background()
	s, reopen := f(t)
	m := open(t, s, rootSecret)
	k := userWithKey(t, m, "alice", "/team/")
	must(t, m.PutUserPolicy(ctx, "alice", "read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`))
	m2 := open(t, reopen(), rootSecret)
	secret, p, ok := m2.Snapshot().Lookup([]byte(k.ID))
	if !ok || secret != k.Secret {
		t.Fatal("the key's secret did not survive a reopen")
	}
	if p.ARN != "arn:aws:iam::000000000000:user/team/alice" || len(p.Policies) != 1 {
		t.Fatalf("principal after reopen: %+v", p)
	}
}

func testSecretsSealed(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	m := open(t, s, rootSecret)
	k := userWithKey(t, m, "alice", "")
	doc, _, err := s.Load(ctx)
	must(t, err)
	if !bytes.Contains(doc, []byte(k.ID)) {
		t.Fatal("the stored document lacks the key id")
	}
	if bytes.Contains(doc, []byte(k.Secret)) {
		t.Fatal("the secret is stored in the clear")
	}
}

func testRootSecretChange(t *testing.T, f Factory) {
	ctx := context.Background()
	s, reopen := f(t)
	m := open(t, s, rootSecret)
	k := userWithKey(t, m, "alice", "")
	if _, err := identity.Open(ctx, identity.Config{Store: reopen(), RootSecret: "another"}); !errors.Is(err, identity.ErrSealKey) {
		t.Fatalf("Open under another root secret: %v, want ErrSealKey", err)
	}
	m2, err := identity.Open(ctx, identity.Config{Store: reopen(), RootSecret: "another", PreviousRootSecret: rootSecret})
	must(t, err)
	if secret, _, ok := m2.Snapshot().Lookup([]byte(k.ID)); !ok || secret != k.Secret {
		t.Fatal("the key did not survive the change of root secret")
	}
	// Resealed: the new secret alone opens it now.
	m3 := open(t, reopen(), "another")
	if secret, _, ok := m3.Snapshot().Lookup([]byte(k.ID)); !ok || secret != k.Secret {
		t.Fatal("the resealed key does not open under the new root secret")
	}
}

func testPoliciesAndGroups(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	m := open(t, s, rootSecret)
	_, err := m.CreateUser(ctx, "alice", "")
	must(t, err)
	_, err = m.CreatePolicy(ctx, "bad", "", `{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`, "")
	wantCode(t, err, identity.ErrMalformedPolicy)
	_, err = m.CreatePolicy(ctx, "big", "", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::`+strings.Repeat("b", 7000)+`"}]}`, "")
	wantCode(t, err, identity.ErrLimitExceeded)
	wantCode(t, m.PutUserPolicy(ctx, "alice", "p", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`), identity.ErrMalformedPolicy)
	pol, err := m.CreatePolicy(ctx, "read", "", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`, "")
	must(t, err)
	arn := m.PolicyARN(&pol)
	_, err = m.CreatePolicy(ctx, "read", "", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "")
	wantCode(t, err, identity.ErrEntityExists)
	_, err = m.CreateGroup(ctx, "readers", "")
	must(t, err)
	must(t, m.AttachGroupPolicy(ctx, "readers", arn, true))
	wantCode(t, m.AttachGroupPolicy(ctx, "readers", "arn:aws:iam::000000000000:policy/none", true), identity.ErrNoSuchEntity)
	must(t, m.SetMembership(ctx, "readers", "alice", true))
	p, _ := m.Snapshot().User("alice")
	if len(p.Policies) != 1 {
		t.Fatalf("alice has %d policies through her group, want 1", len(p.Policies))
	}
	wantCode(t, m.DeletePolicy(ctx, arn), identity.ErrDeleteConflict)
	wantCode(t, m.DeleteGroup(ctx, "readers"), identity.ErrDeleteConflict)
	_, n, err := m.GetPolicy(arn)
	must(t, err)
	if n != 1 {
		t.Fatalf("attachment count %d", n)
	}
	must(t, m.SetMembership(ctx, "readers", "alice", false))
	must(t, m.AttachGroupPolicy(ctx, "readers", arn, false))
	must(t, m.DeleteGroup(ctx, "readers"))
	must(t, m.DeletePolicy(ctx, arn))
	_, _, err = m.GetPolicy(arn)
	wantCode(t, err, identity.ErrNoSuchEntity)
	p, _ = m.Snapshot().User("alice")
	if len(p.Policies) != 0 {
		t.Fatal("alice kept a policy of a group she left")
	}
}

func testEpoch(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	m := open(t, s, rootSecret)
	calls := 0
	m.Subscribe(func() { calls++ })
	e0 := m.Snapshot().Epoch
	_, err := m.CreateUser(ctx, "alice", "")
	must(t, err)
	_, err = m.CreateUser(ctx, "alice", "")
	wantCode(t, err, identity.ErrEntityExists)
	if m.Snapshot().Epoch != e0+1 || calls != 1 {
		t.Fatalf("epoch %d (from %d), %d notifications: want one change", m.Snapshot().Epoch, e0, calls)
	}
}

func testQuota(t *testing.T, f Factory) {
	ctx := context.Background()
	s, _ := f(t)
	m := open(t, s, rootSecret)
	for i := range identity.MaxGroups {
		_, err := m.CreateGroup(ctx, "g"+strconv.Itoa(i), "")
		must(t, err)
	}
	_, err := m.CreateGroup(ctx, "one-too-many", "")
	wantCode(t, err, identity.ErrLimitExceeded)
}
