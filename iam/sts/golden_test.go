package sts

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestGoldenTokenV1: a session token of format version 1 (testdata/token-v1.txt: key id,
// secret, token, issued under the root secret "golden-root-secret") is still read by
// every later version, and its secret still derives from its key id.
func TestGoldenTokenV1(t *testing.T) {
	b, err := os.ReadFile("testdata/token-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines in the golden file", len(lines))
	}
	key, secret, token := lines[0], lines[1], lines[2]
	i := NewIssuer("golden-root-secret")
	if i.Secret([]byte(key)) != secret {
		t.Fatal("the golden session's secret no longer derives from its key id")
	}
	c, err := i.Check([]byte(token), []byte(key), time.Unix(1_796_386_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != "reader" || c.RoleID != "AROAX" || c.SessionName != "nightly" || c.UserID != "AIDAX" || !strings.Contains(c.Policy, "s3:GetObject") {
		t.Fatalf("claims %+v", c)
	}
	if _, err := i.Check([]byte(token), []byte(key), time.Unix(1_796_389_200, 0)); err != ErrExpiredToken {
		t.Fatalf("at its expiry: %v", err)
	}
}
