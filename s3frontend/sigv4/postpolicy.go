package sigv4

import (
	"crypto/subtle"
	"encoding/hex"
)

// VerifyPostPolicy checks the signature of a browser form upload (S3's POST Object): the
// form's x-amz-signature must be the hex HMAC-SHA256, under the signing key of the
// x-amz-credential's scope, of the form's policy field exactly as sent (its base64
// text). It returns the credential's access key. Unlike a request signature, a policy
// carries its own expiration, which the caller checks; the scope date only derives the key.
// Every failure is an *Error (a malformed scope, an unknown access key, a signature
// mismatch).
func (v *Verifier) VerifyPostPolicy(credential, policy, signature []byte) (accessKey []byte, err error) {
	cs, ok := parseCredential(credential)
	if !ok {
		return nil, credentialMalformed(true, "the credential must be of the form \"<AKID>/<date>/<region>/s3/aws4_request\".")
	}
	if e := v.checkScope(cs, true); e != nil {
		return nil, e
	}
	if string(cs.service) != Service {
		return nil, credentialMalformed(true, "incorrect service "+quote(cs.service)+". This endpoint belongs to \"s3\".")
	}
	s := v.pool.Get().(*scratch)
	defer v.pool.Put(s)
	var key [32]byte
	if e := v.lookupKey(s, cs.accessKey, cs.date, Service, &key); e != nil {
		return nil, e
	}
	sum := s.mac.compute(key[:], policy, nil)
	var want [64]byte
	hex.Encode(want[:], sum[:])
	if subtle.ConstantTimeCompare(want[:], signature) != 1 {
		return nil, newError(FailSignatureMismatch)
	}
	return cs.accessKey, nil
}
