package router

import (
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// MaxKeyLength is S3's limit on an object key, in bytes.
const MaxKeyLength = 1024

// Router maps requests to operations. It is immutable and safe for concurrent use.
type Router struct {
	// domain is the virtual-host domain ("s3.example.com"), lower case; "" turns virtual-host
	// style off.
	domain string
}

// New returns a Router. domain, if not empty, enables virtual-host style: a request whose
// Host is "<bucket>.<domain>" addresses that bucket, its path the key.
func New(domain string) *Router {
	return &Router{domain: string(appendLower(nil, []byte(domain)))}
}

// Request is what routing looks at. Every slice is a read-only view.
type Request struct {
	Method string // one of the httpwire.Method* constants, or another token
	Host   []byte // the Host header (port included or not)
	Path   []byte // the path of the request target as received, still percent-encoded
	Query  *Query // the parsed query
	// CopySource tells that an x-amz-copy-source header is present: it turns PutObject into
	// CopyObject and UploadPart into UploadPartCopy.
	CopySource bool
}

// Route is the outcome of routing. Bucket and Key are decoded views into the Route's own
// buffer, valid until it routes again.
type Route struct {
	Op     Op
	Bucket []byte
	Key    []byte
	// VirtualHost tells that the bucket came from the Host header.
	VirtualHost bool

	buf []byte
}

// Route decides the operation of req into out. It fails with the S3 error to send:
// InvalidURI, InvalidBucketName, KeyTooLongError, MethodNotAllowed or NotImplemented.
func (rt *Router) Route(req *Request, out *Route) *s3err.Error {
	out.Op, out.Bucket, out.Key, out.VirtualHost = OpNone, nil, nil, false
	path := req.Path
	if len(path) == 0 || path[0] != '/' {
		return s3err.InvalidURI
	}
	if cap(out.buf) < len(path)+len(req.Host) {
		out.buf = make([]byte, 0, max(len(path)+len(req.Host), 256))
	}
	buf := out.buf[:0]
	var err error
	if b := rt.hostBucket(req.Host); b != nil {
		out.VirtualHost = true
		buf = appendLower(buf, b)
		out.Bucket = buf
		start := len(buf)
		if buf, err = appendUnescape(buf, path[1:], false); err != nil {
			return s3err.InvalidURI
		}
		out.Key = buf[start:]
	} else {
		if buf, err = appendUnescape(buf, path[1:], false); err != nil {
			return s3err.InvalidURI
		}
		if i := indexByte(buf, '/'); i >= 0 {
			out.Bucket, out.Key = buf[:i], buf[i+1:]
		} else {
			out.Bucket = buf
		}
	}
	out.buf = buf
	if len(out.Bucket) == 0 {
		out.Bucket = nil
	}
	if len(out.Key) == 0 {
		out.Key = nil
	}
	op, e := decide(req, out.Bucket != nil, out.Key != nil)
	if e != nil {
		return e
	}
	if out.Bucket != nil && !ValidBucketName(out.Bucket) {
		return s3err.InvalidBucketName.WithExtra("BucketName", string(out.Bucket))
	}
	if len(out.Key) > MaxKeyLength {
		return s3err.KeyTooLong
	}
	out.Op = op
	return nil
}

// hostBucket returns the bucket label of a virtual-host style Host, or nil.
func (rt *Router) hostBucket(host []byte) []byte {
	if rt.domain == "" || len(host) == 0 {
		return nil
	}
	// Strip the port; an IPv6 literal ("[::1]:9000") never names a bucket.
	if host[0] == '[' {
		return nil
	}
	if i := lastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	d := rt.domain
	if len(host) <= len(d)+1 || host[len(host)-len(d)-1] != '.' || !httpwire.EqualFold(host[len(host)-len(d):], d) {
		return nil
	}
	return host[:len(host)-len(d)-1]
}

// decide is the dispatch table proper: method, level and sub-resources to operation.
func decide(req *Request, hasBucket, hasKey bool) (Op, *s3err.Error) {
	q := req.Query
	var sub subresources
	for i := 0; i < q.Len(); i++ {
		s, ok := classify(q.Name(i))
		if !ok {
			return OpNone, s3err.NotImplemented
		}
		sub |= s
	}
	m := req.Method
	var op Op
	switch {
	case m == httpwire.MethodOptions && hasBucket:
		op = OpPreflightCORS
	case !hasBucket:
		if sub&^allowed[OpListBuckets] == 0 && m == httpwire.MethodGet {
			op = OpListBuckets
		}
	case !hasKey:
		op = decideBucket(m, sub)
	default:
		op = decideObject(m, sub, req.CopySource)
	}
	if op == OpNone {
		if sub&subUnsupported != 0 || sub&^(allowed[OpNone]) != 0 {
			return OpNone, s3err.NotImplemented
		}
		return OpNone, s3err.MethodNotAllowed
	}
	if sub&^allowed[op] != 0 {
		return OpNone, s3err.NotImplemented
	}
	if op == OpListObjectsV2 {
		if v, _ := q.Get("list-type"); string(v) != "2" {
			return OpNone, s3err.InvalidArgument.With("Invalid List Type specified in Request")
		}
	}
	if sub&subVersionID != 0 {
		if v, _ := q.Get("versionId"); !ValidVersionID(v) {
			return OpNone, InvalidVersionID
		}
	}
	if sub&subVersionIDMarker != 0 {
		if v, _ := q.Get("version-id-marker"); !ValidVersionID(v) {
			return OpNone, InvalidVersionID
		}
	}
	return op, nil
}

// InvalidVersionID is S3's answer to a malformed versionId or version-id-marker.
var InvalidVersionID = s3err.InvalidArgument.With("Invalid version id specified")

// NullVersion is the version id of an object written while its bucket was not versioned:
// today every object's only version.
const NullVersion = "null"

// ValidVersionID reports whether v is a well-formed version id: "null", or 32 to 1024 of
// the characters S3's version ids use (letters, digits, '.', '_', '-'), which includes
// S3's own 32-character ids and UUIDs. A well-formed id that names no version is
// NoSuchVersion, the object layer's answer; a malformed one InvalidArgument.
func ValidVersionID(v []byte) bool {
	if string(v) == NullVersion {
		return true
	}
	if len(v) < 32 || len(v) > 1024 {
		return false
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func decideBucket(m string, sub subresources) Op {
	res := sub & subResourceMask
	switch {
	case res == 0:
		switch m {
		case httpwire.MethodGet:
			if sub&subListType != 0 {
				return OpListObjectsV2
			}
			return OpListObjects
		case httpwire.MethodPut:
			return OpCreateBucket
		case httpwire.MethodHead:
			return OpHeadBucket
		case httpwire.MethodDelete:
			return OpDeleteBucket
		case httpwire.MethodPost:
			return OpPostObject
		}
	case res == subLocation && m == httpwire.MethodGet:
		return OpGetBucketLocation
	case res == subUploads && m == httpwire.MethodGet:
		return OpListMultipartUploads
	case res == subDelete && m == httpwire.MethodPost:
		return OpDeleteObjects
	case res == subVersions && m == httpwire.MethodGet:
		return OpListObjectVersions
	case res == subVersioning:
		return pick(m, OpGetBucketVersioning, OpPutBucketVersioning, OpNone)
	case res == subTagging:
		return pick(m, OpGetBucketTagging, OpPutBucketTagging, OpDeleteBucketTagging)
	case res == subACL:
		return pick(m, OpGetBucketACL, OpPutBucketACL, OpNone)
	case res == subCORS:
		return pick(m, OpGetBucketCORS, OpPutBucketCORS, OpDeleteBucketCORS)
	case res == subLifecycle:
		return pick(m, OpGetBucketLifecycle, OpPutBucketLifecycle, OpDeleteBucketLifecycle)
	case res == subPolicy:
		return pick(m, OpGetBucketPolicy, OpPutBucketPolicy, OpDeleteBucketPolicy)
	case res == subPolicyStatus:
		return pick(m, OpGetBucketPolicyStatus, OpNone, OpNone)
	case res == subObjectLock:
		return pick(m, OpGetObjectLockConfig, OpPutObjectLockConfig, OpNone)
	}
	return OpNone
}

// pick returns the operation of a sub-resource served by GET, PUT and DELETE (OpNone for
// a method it lacks).
func pick(m string, get, put, del Op) Op {
	switch m {
	case httpwire.MethodGet:
		return get
	case httpwire.MethodPut:
		return put
	case httpwire.MethodDelete:
		return del
	}
	return OpNone
}

func decideObject(m string, sub subresources, copySource bool) Op {
	res := sub & subResourceMask
	switch {
	case res == 0 || res == subPartNumber:
		switch m {
		case httpwire.MethodGet:
			return OpGetObject
		case httpwire.MethodHead:
			return OpHeadObject
		case httpwire.MethodPut:
			if res != 0 {
				return OpNone
			}
			if copySource {
				return OpCopyObject
			}
			return OpPutObject
		case httpwire.MethodDelete:
			if res != 0 {
				return OpNone
			}
			return OpDeleteObject
		}
	case res == subUploads && m == httpwire.MethodPost:
		return OpCreateMultipartUpload
	case res == subTagging:
		return pick(m, OpGetObjectTagging, OpPutObjectTagging, OpDeleteObjectTagging)
	case res == subACL:
		return pick(m, OpGetObjectACL, OpPutObjectACL, OpNone)
	case res == subAttributes:
		return pick(m, OpGetObjectAttributes, OpNone, OpNone)
	case res == subRetention:
		return pick(m, OpGetObjectRetention, OpPutObjectRetention, OpNone)
	case res == subLegalHold:
		return pick(m, OpGetObjectLegalHold, OpPutObjectLegalHold, OpNone)
	case res == subUploadID|subPartNumber && m == httpwire.MethodPut:
		if copySource {
			return OpUploadPartCopy
		}
		return OpUploadPart
	case res == subUploadID:
		switch m {
		case httpwire.MethodPost:
			return OpCompleteMultipartUpload
		case httpwire.MethodDelete:
			return OpAbortMultipartUpload
		case httpwire.MethodGet:
			return OpListParts
		}
	}
	return OpNone
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

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
