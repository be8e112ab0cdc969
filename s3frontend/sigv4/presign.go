package sigv4

import (
	"bytes"
	"time"
)

// presignParams are the authentication parameters of a presigned URL, decoded; the slices
// point into the scratch query buffers.
type presignParams struct {
	algorithm, credential, date, expires, signedHeaders, signature []byte
	securityToken, contentSHA256                                   []byte
	hasToken, hasContentSHA256                                     bool
}

// parsePresign extracts the X-Amz-* authentication parameters from the parsed query.
func parsePresign(q *queryParams) (presignParams, *Error) {
	var p presignParams
	var ok [6]bool
	p.algorithm, ok[0] = q.get("X-Amz-Algorithm")
	p.credential, ok[1] = q.get("X-Amz-Credential")
	p.signature, ok[2] = q.get("X-Amz-Signature")
	p.date, ok[3] = q.get("X-Amz-Date")
	p.signedHeaders, ok[4] = q.get("X-Amz-SignedHeaders")
	p.expires, ok[5] = q.get("X-Amz-Expires")
	for _, present := range ok {
		if !present {
			return p, queryMalformed("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	p.securityToken, p.hasToken = q.get("X-Amz-Security-Token")
	p.contentSHA256, p.hasContentSHA256 = q.get("X-Amz-Content-Sha256")
	if string(p.algorithm) != Algorithm {
		return p, queryMalformed(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
	}
	return p, nil
}

// parseExpires parses X-Amz-Expires as S3 does: a decimal number of seconds, at most
// MaxPresignExpires.
func parseExpires(b []byte) (time.Duration, *Error) {
	neg := len(b) > 0 && b[0] == '-'
	digitsPart := b
	if neg {
		digitsPart = b[1:]
	}
	n, ok := digits(digitsPart)
	if !ok || len(digitsPart) == 0 || len(digitsPart) > 12 {
		return 0, queryMalformed("X-Amz-Expires should be a number")
	}
	if neg {
		return 0, queryMalformed("X-Amz-Expires must be non-negative")
	}
	if n > MaxPresignExpires {
		return 0, queryMalformed("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// verifyPresigned verifies a request authenticated by presigned-URL query parameters.
func (v *Verifier) verifyPresigned(r Request, s *scratch) (Auth, error) {
	var a Auth
	a.Presigned = true
	if err := s.q.parse(r.RawQuery()); err != nil {
		return a, newError(FailInvalidURI)
	}
	p, perr := parsePresign(&s.q)
	if perr != nil {
		return a, perr
	}
	cs, ok := parseCredential(p.credential)
	if !ok {
		return a, credentialMalformed(true, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if err := v.checkScope(cs, true); err != nil {
		return a, err
	}
	t, ok := parseAmzDate(p.date)
	if !ok {
		return a, queryMalformed(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	a.Time = t
	copy(a.amzDate[:], p.date)
	if !bytes.Equal(p.date[:8], cs.date) {
		return a, queryMalformed("Invalid credential date " + quote(cs.date) + ". This date is not the same as X-Amz-Date: " + quote(p.date[:8]) + ".")
	}
	expires, perr := parseExpires(p.expires)
	if perr != nil {
		return a, perr
	}
	payload := []byte(unsignedPayload)
	a.Payload = PayloadUnsigned
	if p.hasContentSHA256 {
		payload = p.contentSHA256
		if err := parsePayloadMode(payload, &a); err != nil {
			return a, err
		}
	}
	a.Service = v.service(cs.service)
	if err := v.lookupKey(s, cs.accessKey, cs.date, a.Service, &a.key); err != nil {
		return a, err
	}
	now := v.now()
	if t.Sub(now) > MaxSkew {
		return a, newError(FailNotYetValid)
	}
	// X-Amz-Expires=0 is expired from the first second, so a URL is valid for 1..604800 s.
	if !now.Before(t.Add(expires)) {
		return a, newError(FailExpired,
			[2]string{"X-Amz-Expires", string(p.expires)},
			[2]string{"Expires", t.Add(expires).UTC().Format(time.RFC3339)},
			[2]string{"ServerTime", now.UTC().Format(time.RFC3339)})
	}
	if err := v.checkSignedHeaders(r, s, p.signedHeaders); err != nil {
		return a, err
	}
	if err := v.appendCanonicalRequest(r, s, "X-Amz-Signature", p.signedHeaders, payload); err != nil {
		return a, err
	}
	if err := v.checkSignature(s, &a, cs.date, p.signature); err != nil {
		return a, err
	}
	// The decoded parameters live in pooled scratch memory: hand out copies.
	a.AccessKey = bytes.Clone(cs.accessKey)
	if p.hasToken {
		a.SecurityToken = bytes.Clone(p.securityToken)
	}
	return a, nil
}
