package sigv4

// CredentialStore resolves an access key to its secret key. IAM users and STS temporary
// credentials implement it; the verifier calls it once per request.
type CredentialStore interface {
	// Lookup returns the secret key of accessKey and true, or false when the key is unknown
	// (or disabled). accessKey is a view into the request, valid only during the call; an
	// implementation must copy it to keep it. It must be safe for concurrent use and should
	// not allocate on the hit path (a map lookup m[string(accessKey)] does not).
	Lookup(accessKey []byte) (secret string, ok bool)
}

// StaticCredentials is a CredentialStore over a fixed map from access key to secret key, for
// tests and single-user setups. It must not be modified once in use.
type StaticCredentials map[string]string

// Lookup implements CredentialStore.
func (s StaticCredentials) Lookup(accessKey []byte) (string, bool) {
	secret, ok := s[string(accessKey)]
	return secret, ok
}
