package sts

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueCheck(t *testing.T) {
	i := NewIssuer("root-secret")
	now := time.Unix(1_800_000_000, 0)
	creds, err := i.Issue(Claims{User: "alice", UserID: "AIDAX", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix(), Policy: `{"x":1}`})
	if err != nil {
		t.Fatal(err)
	}
	if !IsSessionKey([]byte(creds.AccessKeyID)) || len(creds.SecretAccessKey) != 40 {
		t.Fatalf("credentials %+v", creds)
	}
	if i.Secret([]byte(creds.AccessKeyID)) != creds.SecretAccessKey {
		t.Fatal("the secret is not derivable from the key id")
	}
	c, err := i.Check([]byte(creds.SessionToken), []byte(creds.AccessKeyID), now)
	if err != nil || c.User != "alice" || c.Policy != `{"x":1}` {
		t.Fatalf("Check = %+v, %v", c, err)
	}
	if _, err := i.Check([]byte(creds.SessionToken), []byte(creds.AccessKeyID), now.Add(time.Hour)); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("at expiry: %v", err)
	}
	other, _ := i.Issue(Claims{Expires: now.Add(time.Hour).Unix()})
	if _, err := i.Check([]byte(creds.SessionToken), []byte(other.AccessKeyID), now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("with another session's key: %v", err)
	}
	if _, err := NewIssuer("other-root").Check([]byte(creds.SessionToken), []byte(creds.AccessKeyID), now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("under another root secret: %v", err)
	}
	// Every single-byte change of the token is refused.
	tok := []byte(creds.SessionToken)
	for k := range tok {
		bad := append([]byte(nil), tok...)
		bad[k] ^= 0x01
		if _, err := i.Check(bad, []byte(creds.AccessKeyID), now); err == nil {
			t.Fatalf("token altered at byte %d accepted", k)
		}
	}
	if _, err := i.Check([]byte(strings.TrimSuffix(creds.SessionToken, "A")), []byte(creds.AccessKeyID), now); err == nil && strings.HasSuffix(creds.SessionToken, "A") {
		t.Fatal("truncated token accepted")
	}
}

func FuzzCheck(f *testing.F) {
	i := NewIssuer("root-secret")
	creds, _ := i.Issue(Claims{Expires: 2_000_000_000})
	f.Add([]byte(creds.SessionToken), []byte(creds.AccessKeyID))
	f.Add([]byte("FST1.."), []byte("ASIA"))
	f.Fuzz(func(t *testing.T, token, key []byte) {
		c, err := i.Check(token, key, time.Unix(1_800_000_000, 0))
		if err == nil && c.AccessKey != string(key) {
			t.Fatal("a token passed for another key")
		}
	})
}
