package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sealer encrypts the secrets the Store keeps: AES-256-GCM with a key derived from the
// root secret by HKDF-SHA256, the access key id as additional data (a sealed secret moved
// to another key does not open). A changed root secret opens nothing that the old one
// sealed: Open then fails with ErrSealKey, naming the way out (the old secret as
// Config.PreviousRootSecret, which reseals everything under the new one).
type Sealer struct {
	aead cipher.AEAD
	// check is an HMAC of a fixed text under the derived key: stored beside the sealed
	// secrets, it tells a wrong root secret from a corrupt record.
	check string
}

// ErrSealKey: the stored identities were sealed under another root secret.
var ErrSealKey = errors.New("identity: the identities were sealed under another root secret (set the previous root secret to reseal them)")

// DeriveKey derives a 32-byte key for purpose from the root secret.
func DeriveKey(rootSecret, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(rootSecret), []byte("flashstor"), purpose, 32)
	if err != nil {
		panic(err) // only for a length HKDF cannot give; 32 always works
	}
	return k
}

// NewSealer returns the Sealer of rootSecret.
func NewSealer(rootSecret string) (*Sealer, error) {
	key := DeriveKey(rootSecret, "iam seal v1")
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("identity: sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("identity: sealer: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("flashstor iam seal check"))
	return &Sealer{aead: aead, check: base64.RawStdEncoding.EncodeToString(m.Sum(nil)[:12])}, nil
}

// Seal encrypts secret for the access key id.
func (s *Sealer) Seal(id, secret string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("identity: seal: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
	return base64.StdEncoding.EncodeToString(out), nil
}

// Unseal decrypts what Seal made for id.
func (s *Sealer) Unseal(id, sealed string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", fmt.Errorf("identity: sealed secret of %s is corrupt", id)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("identity: sealed secret of %s does not open", id)
	}
	return string(plain), nil
}
