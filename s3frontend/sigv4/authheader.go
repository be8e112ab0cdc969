package sigv4

import (
	"bytes"
	"strconv"
	"time"
)

// authorization is a parsed Authorization header; its fields are views into the header.
type authorization struct {
	credential, signedHeaders, signature []byte
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/s3/aws4_request, SignedHeaders=a;b, Signature=hex",
// accepting the separators clients use (", " or ",").
func parseAuthorization(h []byte) (authorization, *Error) {
	var a authorization
	h = bytes.TrimLeft(h, " ")
	if len(h) <= len(Algorithm) || string(h[:len(Algorithm)]) != Algorithm || h[len(Algorithm)] != ' ' {
		return a, newError(FailUnsupportedAuth)
	}
	rest := h[len(Algorithm)+1:]
	for len(rest) > 0 {
		comp := rest
		if i := indexByte(rest, ','); i >= 0 {
			comp, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		comp = bytes.Trim(comp, " ")
		if len(comp) == 0 {
			continue
		}
		eq := indexByte(comp, '=')
		if eq < 0 {
			return a, headerMalformed("the authorization component " + quote(comp) + " is malformed.")
		}
		var dst *[]byte
		switch string(comp[:eq]) {
		case "Credential":
			dst = &a.credential
		case "SignedHeaders":
			dst = &a.signedHeaders
		case "Signature":
			dst = &a.signature
		default:
			return a, headerMalformed("the authorization component " + quote(comp) + " is malformed.")
		}
		if *dst != nil {
			return a, headerMalformed("the authorization component " + quote(comp) + " is malformed.")
		}
		*dst = comp[eq+1:]
	}
	if len(a.credential) == 0 || len(a.signedHeaders) == 0 || len(a.signature) == 0 {
		return a, headerMalformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	return a, nil
}

// verifyHeader verifies a request authenticated by its Authorization header.
func (v *Verifier) verifyHeader(r Request, s *scratch, h []byte) (Auth, error) {
	var a Auth
	ah, err := parseAuthorization(h)
	if err != nil {
		return a, err
	}
	cs, ok := parseCredential(ah.credential)
	if !ok {
		return a, credentialMalformed(false, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if err := v.checkScope(cs, false); err != nil {
		return a, err
	}
	t, ok := requestTime(r, s)
	if !ok {
		return a, newError(FailMissingDate)
	}
	a.Time = t
	formatAmzDate(&a.amzDate, t)
	if string(a.amzDate[:8]) != string(cs.date) {
		return a, headerMalformed("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	var payload []byte
	payload, ok, s.vals = firstHeader(r, s.vals, "x-amz-content-sha256")
	if ph, isPH := r.(PayloadHasher); isPH && string(cs.service) != Service {
		if sum, have := ph.PayloadSHA256(); have {
			if ok && !bytes.Equal(payload, sum) {
				return a, newError(FailContentSHA256Mismatch)
			}
			payload, ok = sum, true
		}
	}
	if !ok {
		return a, newError(FailMissingContentSHA256)
	}
	if err := parsePayloadMode(payload, &a); err != nil {
		return a, err
	}
	a.Service = v.service(cs.service)
	if err := v.lookupKey(s, cs.accessKey, cs.date, a.Service, &a.key); err != nil {
		return a, err
	}
	if now := v.now(); t.Sub(now) > MaxSkew || now.Sub(t) > MaxSkew {
		return a, newError(FailTimeSkewed,
			[2]string{"RequestTime", string(a.amzDate[:])},
			[2]string{"ServerTime", now.UTC().Format(time.RFC3339)},
			[2]string{"MaxAllowedSkewMilliseconds", strconv.Itoa(int(MaxSkew / time.Millisecond))})
	}
	if err := v.checkSignedHeaders(r, s, ah.signedHeaders); err != nil {
		return a, err
	}
	if err := s.q.parse(r.RawQuery()); err != nil {
		return a, newError(FailInvalidURI)
	}
	if err := v.appendCanonicalRequest(r, s, "", ah.signedHeaders, payload); err != nil {
		return a, err
	}
	if err := v.checkSignature(s, &a, cs.date, ah.signature); err != nil {
		return a, err
	}
	a.AccessKey = cs.accessKey
	a.SecurityToken, _, s.vals = firstHeader(r, s.vals, "x-amz-security-token")
	return a, nil
}
