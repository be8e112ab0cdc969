package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Protocol constants.
const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "AWS4-HMAC-SHA256"
	// DefaultRegion is the region accepted when Config.Region is empty.
	DefaultRegion = "us-east-1"
	// Service is the service name S3 credentials are scoped to.
	Service = "s3"
	// MaxSkew is how far a header-signed request's time may be from the server clock.
	MaxSkew = 15 * time.Minute
	// MaxPresignExpires is the longest validity of a presigned URL, in seconds (7 days).
	MaxPresignExpires = 7 * 24 * 3600
	// DefaultKeyCacheSize is the signing-key cache bound used when Config.KeyCacheSize is 0.
	DefaultKeyCacheSize = 1024
)

// The x-amz-content-sha256 values that name a payload mode rather than a hash.
const (
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix     = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
)

// Payload says what the signature vouches for about the request body.
type Payload uint8

// The payload modes of x-amz-content-sha256.
const (
	// PayloadUnsigned is UNSIGNED-PAYLOAD: the body is not covered by the signature.
	PayloadUnsigned Payload = iota + 1
	// PayloadSHA256 is a hex SHA-256 of the body, checked as the body streams.
	PayloadSHA256
	// PayloadStreaming is STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked, every chunk signed.
	PayloadStreaming
	// PayloadStreamingTrailer is STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks and
	// a signed trailer.
	PayloadStreamingTrailer
	// PayloadStreamingUnsignedTrailer is STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked
	// without chunk signatures, with a trailing checksum.
	PayloadStreamingUnsignedTrailer
)

// String returns the x-amz-content-sha256 form of p ("<sha256>" for PayloadSHA256).
func (p Payload) String() string {
	switch p {
	case PayloadUnsigned:
		return unsignedPayload
	case PayloadSHA256:
		return "<sha256>"
	case PayloadStreaming:
		return streamingPayload
	case PayloadStreamingTrailer:
		return streamingPayloadTrailer
	case PayloadStreamingUnsignedTrailer:
		return streamingUnsignedTrailer
	}
	return "none"
}

// Chunked reports whether the body is aws-chunked encoded.
func (p Payload) Chunked() bool { return p >= PayloadStreaming }

// Config configures a Verifier.
type Config struct {
	// Region is the one region requests must be scoped to; DefaultRegion when empty.
	Region string
	// Credentials resolves access keys. Required.
	Credentials CredentialStore
	// Now is the clock; time.Now when nil. Tests inject a fixed clock.
	Now func() time.Time
	// Services are the services besides S3 whose requests this endpoint takes ("iam",
	// "sts"): a credential scoped to one of them verifies, and Auth.Service tells which.
	Services []string
	// KeyCacheSize bounds the derived signing-key cache (entries per generation; up to
	// twice as many are held). 0 means DefaultKeyCacheSize; a negative value disables it.
	KeyCacheSize int
}

// Verifier checks SigV4 signatures of S3 requests. It is safe for concurrent use.
type Verifier struct {
	region string
	// services are the accepted scope services: Service first, then Config.Services.
	services []string
	creds    CredentialStore
	now      func() time.Time
	cache    *keyCache // nil when disabled
	pool     sync.Pool // of *scratch: per-verification buffers and hash states
}

// scratch is the reusable working memory of one verification.
type scratch struct {
	mac    *macSHA256
	sha    hash.Hash
	canon  []byte
	tmp    []byte
	lower  []byte
	vals   [][]byte
	names  [][]byte
	q      queryParams
	hashed [sha256.Size]byte
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("sigv4: Config.Credentials is required")
	}
	v := &Verifier{region: cfg.Region, creds: cfg.Credentials, now: cfg.Now}
	v.services = append([]string{Service}, cfg.Services...)
	if v.region == "" {
		v.region = DefaultRegion
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch size := cfg.KeyCacheSize; {
	case size == 0:
		v.cache = newKeyCache(DefaultKeyCacheSize)
	case size > 0:
		v.cache = newKeyCache(size)
	}
	v.pool.New = func() any {
		return &scratch{mac: newMAC(), sha: sha256.New(), canon: make([]byte, 0, 1024)}
	}
	return v, nil
}

// Region returns the region requests must be scoped to.
func (v *Verifier) Region() string { return v.region }

// Auth is the outcome of a successful verification.
//
// For header authentication AccessKey and SecurityToken are views into the request and live
// as long as it does; for presigned URLs they are copies. Auth also holds the derived
// signing key (scoped to one day, region and service) that Body needs to check chunk
// signatures: do not log it.
type Auth struct {
	AccessKey     []byte
	SecurityToken []byte // x-amz-security-token or X-Amz-Security-Token; empty if none
	Presigned     bool
	// Service is the service the credential is scoped to: Service ("s3") or one of
	// Config.Services.
	Service string
	Time    time.Time // the request's signing time
	Payload Payload

	payloadHash [sha256.Size]byte // PayloadSHA256 only
	signature   [sha256.Size]byte // the request signature: the seed of a chunk chain
	key         [sha256.Size]byte
	amzDate     [16]byte // signing time as YYYYMMDDTHHMMSSZ
}

// Verify checks the signature of r, by Authorization header or presigned query, and returns
// who signed it and what the signature says about the body. A request with neither form of
// authentication fails with FailMissingAuth, so that anonymous access is an explicit
// decision of the caller. Every failure is an *Error.
func (v *Verifier) Verify(r Request) (Auth, error) {
	s := v.pool.Get().(*scratch)
	defer v.pool.Put(s)
	var authz []byte
	var hasAuthz bool
	authz, hasAuthz, s.vals = firstHeader(r, s.vals, "authorization")
	kind := queryAuth(r.RawQuery())
	switch {
	case hasAuthz && kind != queryAuthNone:
		return Auth{}, newError(FailMultipleAuth)
	case hasAuthz:
		return v.verifyHeader(r, s, authz)
	case kind == queryAuthV4:
		return v.verifyPresigned(r, s)
	case kind == queryAuthV2:
		return Auth{}, newError(FailUnsupportedAuth)
	}
	return Auth{}, newError(FailMissingAuth)
}

type queryAuthKind uint8

const (
	queryAuthNone queryAuthKind = iota
	queryAuthV4
	queryAuthV2
)

// queryAuth tells whether the raw query carries presigned-URL authentication.
func queryAuth(raw []byte) queryAuthKind {
	for len(raw) > 0 {
		piece := raw
		if i := indexByte(raw, '&'); i >= 0 {
			piece, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name := piece
		if i := indexByte(piece, '='); i >= 0 {
			name = piece[:i]
		}
		switch string(name) {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature":
			return queryAuthV4
		case "AWSAccessKeyId", "Signature":
			return queryAuthV2
		}
	}
	return queryAuthNone
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// credentialScope is a parsed "AKID/YYYYMMDD/region/service/aws4_request".
type credentialScope struct {
	accessKey, date, region, service, terminal []byte
}

// parseCredential splits a credential from the right, so that the access key is whatever
// precedes the four scope components.
func parseCredential(c []byte) (credentialScope, bool) {
	var parts [4][]byte
	rest := c
	for i := 3; i >= 0; i-- {
		j := lastIndexByte(rest, '/')
		if j < 0 {
			return credentialScope{}, false
		}
		parts[i] = rest[j+1:]
		rest = rest[:j]
	}
	return credentialScope{accessKey: rest, date: parts[0], region: parts[1], service: parts[2], terminal: parts[3]}, true
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// checkScope validates the scope the way S3 does, in S3's order.
func (v *Verifier) checkScope(cs credentialScope, presigned bool) *Error {
	if len(cs.accessKey) == 0 {
		return credentialMalformed(presigned, "a non-empty Access Key (AKID) must be provided in the credential.")
	}
	if _, ok := parseYMD(cs.date); !ok {
		return credentialMalformed(presigned, "incorrect date format "+quote(cs.date)+". This date in the credential must be in the format \"yyyyMMdd\".")
	}
	if string(cs.region) != v.region {
		msg := "the region '" + string(cs.region) + "' is wrong; expecting '" + v.region + "'"
		extra := [2]string{"Region", v.region}
		if presigned {
			return newErrorMsg(FailQueryWrongRegion, "Error parsing the X-Amz-Credential parameter; "+msg, extra)
		}
		return newErrorMsg(FailWrongRegion, "The authorization header is malformed; "+msg, extra)
	}
	if v.service(cs.service) == "" {
		return credentialMalformed(presigned, "incorrect service "+quote(cs.service)+". This endpoint belongs to \"s3\".")
	}
	if string(cs.terminal) != "aws4_request" {
		return credentialMalformed(presigned, "incorrect terminal "+quote(cs.terminal)+". This endpoint uses \"aws4_request\".")
	}
	return nil
}

// service returns the accepted service named name (the constant string, so that Auth
// holds no view of the request), "" when the endpoint does not serve it.
func (v *Verifier) service(name []byte) string {
	for _, s := range v.services {
		if string(name) == s {
			return s
		}
	}
	return ""
}

// lookupKey finds the secret of the access key and the signing key for the scope date
// and service.
func (v *Verifier) lookupKey(s *scratch, accessKey, date []byte, service string, out *[sha256.Size]byte) *Error {
	secret, ok := v.creds.Lookup(accessKey)
	if !ok {
		return newError(FailUnknownAccessKey, [2]string{"AWSAccessKeyId", string(accessKey)})
	}
	v.signingKey(s, secret, date, service, out)
	return nil
}

// signingKey returns the derived key for secret on date, through the cache when enabled.
func (v *Verifier) signingKey(s *scratch, secret string, date []byte, service string, out *[sha256.Size]byte) {
	if v.cache == nil {
		*out = s.mac.deriveKey(secret, date, v.region, service)
		return
	}
	k := keyCacheKey{secret: secret, region: v.region, service: service}
	copy(k.date[:], date)
	if key, ok := v.cache.get(k); ok {
		*out = key
		return
	}
	*out = s.mac.deriveKey(secret, date, v.region, service)
	v.cache.put(k, *out)
}

// checkSignedHeaders enforces S3's rule that host and every x-amz-* header present be
// signed. x-amz-content-sha256 is exempt: its value is the canonical request's payload
// line, so it is covered either way.
func (v *Verifier) checkSignedHeaders(r Request, s *scratch, signed []byte) *Error {
	if !listContains(signed, []byte("host")) {
		return newError(FailUnsignedHeaders, [2]string{"HeadersNotSigned", "host"})
	}
	s.names = r.AppendHeaderNames(s.names[:0])
	var missing []string
	for _, n := range s.names {
		if !hasPrefixFold(n, "x-amz-") || equalFoldString(n, "x-amz-content-sha256") || listContains(signed, n) {
			continue
		}
		name := strings.ToLower(string(n))
		if !containsString(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return newError(FailUnsignedHeaders, [2]string{"HeadersNotSigned", strings.Join(missing, ", ")})
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listContains reports whether the ';'-separated list holds name, ignoring ASCII case.
func listContains(list, name []byte) bool {
	for len(list) > 0 {
		item := list
		if i := indexByte(list, ';'); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		if equalFoldBytes(item, name) {
			return true
		}
	}
	return false
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// signature computes the request signature for the canonical request in s.canon and
// compares it, in constant time, with the hex signature the client sent.
func (v *Verifier) checkSignature(s *scratch, a *Auth, scopeDate, sent []byte) *Error {
	s.sha.Reset()
	s.sha.Write(s.canon)
	s.sha.Sum(s.hashed[:0])
	// String to sign: algorithm, time, scope, hex(hash(canonical request)).
	sts := s.tmp[:0]
	sts = append(sts, Algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, a.amzDate[:]...)
	sts = append(sts, '\n')
	sts = v.appendScope(sts, scopeDate, a.Service)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, s.hashed[:])
	s.tmp = sts
	a.signature = s.mac.compute(a.key[:], sts, nil)
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], a.signature[:])
	if subtle.ConstantTimeCompare(want[:], sent) != 1 {
		return newError(FailSignatureMismatch)
	}
	return nil
}

// appendScope appends "YYYYMMDD/region/service/aws4_request".
func (v *Verifier) appendScope(dst, date []byte, service string) []byte {
	dst = append(dst, date...)
	dst = append(dst, '/')
	dst = append(dst, v.region...)
	dst = append(dst, '/')
	dst = append(dst, service...)
	dst = append(dst, "/aws4_request"...)
	return dst
}

// appendCanonicalRequest builds the canonical request of r into s.canon.
func (v *Verifier) appendCanonicalRequest(r Request, s *scratch, skipParam string, signed []byte, payloadHash []byte) *Error {
	c := s.canon[:0]
	c = append(c, r.Method()...)
	c = append(c, '\n')
	var err error
	if c, s.tmp, err = appendCanonicalURI(c, r.RawPath(), s.tmp); err != nil {
		s.canon = c
		return newError(FailInvalidURI)
	}
	c = append(c, '\n')
	c = s.q.appendCanonical(c, skipParam)
	c = append(c, '\n')
	list := signed
	for len(list) > 0 {
		name := list
		if i := indexByte(list, ';'); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		s.lower = appendLower(s.lower[:0], name)
		s.vals = r.AppendHeaderValues(s.vals[:0], unsafe.String(unsafe.SliceData(s.lower), len(s.lower)))
		c = append(c, name...)
		c = append(c, ':')
		for i, val := range s.vals {
			if i > 0 {
				c = append(c, ',')
			}
			c = appendTrimmedValue(c, val)
		}
		c = append(c, '\n')
	}
	c = append(c, '\n')
	c = append(c, signed...)
	c = append(c, '\n')
	c = append(c, payloadHash...)
	s.canon = c
	return nil
}

func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// parsePayloadMode interprets an x-amz-content-sha256 value.
func parsePayloadMode(val []byte, a *Auth) *Error {
	switch string(val) {
	case unsignedPayload:
		a.Payload = PayloadUnsigned
	case streamingPayload:
		a.Payload = PayloadStreaming
	case streamingPayloadTrailer:
		a.Payload = PayloadStreamingTrailer
	case streamingUnsignedTrailer:
		a.Payload = PayloadStreamingUnsignedTrailer
	default:
		if len(val) > len(streamingECDSAPrefix) && string(val[:len(streamingECDSAPrefix)]) == streamingECDSAPrefix ||
			string(val) == streamingECDSAPrefix {
			return newError(FailUnsupportedAuth)
		}
		if len(val) != 2*sha256.Size {
			return newError(FailBadContentSHA256)
		}
		if _, err := hex.Decode(a.payloadHash[:], val); err != nil {
			return newError(FailBadContentSHA256)
		}
		a.Payload = PayloadSHA256
	}
	return nil
}
