package identity_test

import (
	"context"
	"os"
	"testing"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
)

// TestGoldenStateV1 reads the bytes a version-1 Manager stored (testdata/state-v1.json,
// written once under the root secret "golden-root-secret"): every later version must
// still read them, sealed secret included.
func TestGoldenStateV1(t *testing.T) {
	doc, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mem := &identity.Memory{}
	if _, err := mem.Save(ctx, doc, 0); err != nil {
		t.Fatal(err)
	}
	m, err := identity.Open(ctx, identity.Config{Store: mem, RootSecret: "golden-root-secret"})
	if err != nil {
		t.Fatal(err)
	}
	secret, p, ok := m.Snapshot().Lookup([]byte("AKIA4YGAEF35KKLPRVD4"))
	if !ok || secret != "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" {
		t.Fatalf("the golden key: found %v", ok)
	}
	if p.ARN != "arn:aws:iam::000000000000:user/team/alice" || p.ID != "AIDABRO2D4KQMC5WJ5OLE" || len(p.Policies) != 2 {
		t.Fatalf("principal %+v", p)
	}
	r := &policy.Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::x/y"}
	d := policy.NoMatch
	for _, pol := range p.Policies {
		d = policy.Combine(d, pol.Decide(r))
	}
	if d != policy.Allowed {
		t.Fatalf("the group's policy: %v", d)
	}
	if _, _, _, ok := m.Snapshot().Role("reader"); !ok {
		t.Fatal("the golden role is missing")
	}
}
