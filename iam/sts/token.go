// Package sts issues and checks STS temporary credentials. A session token is
// self-contained and signed: it carries who the session belongs to, when it ends and its
// session policy, under an HMAC-SHA256 whose key is derived from the root secret, so any
// node that has the root secret checks it without shared state. The session's secret
// access key is derived from its access key id under another derived key, so nothing of a
// session is stored anywhere.
package sts

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/flashstor/flashstor/iam/identity"
)

// Prefix begins every session access key id, as in AWS ("ASIA").
const Prefix = "ASIA"

// tokenPrefix begins every token this package makes, with the format's version.
const tokenPrefix = "FST1."

// Claims are what a session token says.
type Claims struct {
	// AccessKey is the session's access key id: a token is valid only with it.
	AccessKey string `json:"ak"`
	Issued    int64  `json:"iat"` // Unix seconds
	Expires   int64  `json:"exp"` // Unix seconds
	// Role is set for an AssumeRole session: the role's name and unique id (a role
	// deleted and created again is another role).
	Role   string `json:"role,omitempty"`
	RoleID string `json:"rid,omitempty"`
	// SessionName is AssumeRole's RoleSessionName.
	SessionName string `json:"sn,omitempty"`
	// User and UserID are the user who asked for the session (GetSessionToken, or the
	// caller of AssumeRole); Root marks the root user's GetSessionToken.
	User   string `json:"user,omitempty"`
	UserID string `json:"uid,omitempty"`
	Root   bool   `json:"root,omitempty"`
	// Policy is the session policy, which limits the session to what it allows too.
	Policy string `json:"pol,omitempty"`
}

// Credentials are temporary credentials as STS hands them out.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// The failures of Check, which S3 answers with InvalidToken and ExpiredToken.
var (
	ErrInvalidToken = errors.New("sts: the provided token is malformed or otherwise invalid")
	ErrExpiredToken = errors.New("sts: the provided token has expired")
)

// Issuer issues and checks session credentials. It is immutable and safe for concurrent
// use.
type Issuer struct {
	macKey, secretKey []byte
}

// NewIssuer returns the Issuer of the deployment whose root secret is rootSecret: every
// node with that secret checks what any of them issued. A changed root secret invalidates
// every session.
func NewIssuer(rootSecret string) *Issuer {
	return &Issuer{macKey: identity.DeriveKey(rootSecret, "sts token v1"), secretKey: identity.DeriveKey(rootSecret, "sts secret v1")}
}

// IsSessionKey reports whether accessKey has the form of a session access key id.
func IsSessionKey(accessKey []byte) bool {
	return len(accessKey) == len(Prefix)+16 && string(accessKey[:len(Prefix)]) == Prefix
}

// Secret returns the secret access key of the session key id accessKey.
func (i *Issuer) Secret(accessKey []byte) string {
	m := hmac.New(sha256.New, i.secretKey)
	m.Write(accessKey)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:40]
}

// Issue makes credentials for c, whose AccessKey it sets.
func (i *Issuer) Issue(c Claims) (Credentials, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, err
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for k := range b {
		b[k] = alphabet[int(b[k])%len(alphabet)]
	}
	c.AccessKey = Prefix + string(b)
	payload, err := json.Marshal(c)
	if err != nil {
		return Credentials{}, err
	}
	enc := base64.RawURLEncoding.EncodeToString(payload)
	token := tokenPrefix + enc + "." + base64.RawURLEncoding.EncodeToString(i.mac(enc))
	return Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: i.Secret([]byte(c.AccessKey)), SessionToken: token,
		Expiration: time.Unix(c.Expires, 0).UTC()}, nil
}

func (i *Issuer) mac(payload string) []byte {
	m := hmac.New(sha256.New, i.macKey)
	m.Write([]byte(tokenPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Check verifies token for the request's access key at now: ErrInvalidToken if it is not
// one this deployment signed for that key, ErrExpiredToken past its expiry. Whether its
// user or role still exists is the caller's to check.
func (i *Issuer) Check(token, accessKey []byte, now time.Time) (Claims, error) {
	var c Claims
	rest, ok := bytes.CutPrefix(token, []byte(tokenPrefix))
	if !ok {
		return c, ErrInvalidToken
	}
	payload, sig, ok := strings.Cut(string(rest), ".")
	if !ok {
		return c, ErrInvalidToken
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, i.mac(payload)) {
		return c, ErrInvalidToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.AccessKey != string(accessKey) {
		return Claims{}, ErrInvalidToken
	}
	if !now.Before(time.Unix(c.Expires, 0)) {
		return c, ErrExpiredToken
	}
	return c, nil
}
