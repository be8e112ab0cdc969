package s3frontend

import (
	"strings"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// maxUserMetadata is S3's limit on the user metadata of an object: the x-amz-meta-* names
// and values, in bytes.
const maxUserMetadata = 2 << 10

// Metadata keys the face stores besides the request's headers. The object layer keeps
// metadata under lower-case header names; these reuse S3's own header names.
const (
	// mdChecksumType is the multipart checksum type (COMPOSITE or FULL_OBJECT); absent for
	// a single PUT, whose checksum is FULL_OBJECT.
	mdChecksumType = "x-amz-checksum-type"
	// mdChecksumAlgorithm is the algorithm a multipart upload was created with.
	mdChecksumAlgorithm = "x-amz-checksum-algorithm"
)

// unsupportedHeaders imply features the face does not implement: accepting them silently
// would store something other than what the client asked for.
var unsupportedHeaders = [...]string{
	"x-amz-server-side-encryption",
	"x-amz-server-side-encryption-customer-algorithm",
	"x-amz-server-side-encryption-aws-kms-key-id",
}

// checkUnsupported fails with NotImplemented when the request carries a header of a feature
// the face lacks. ACL headers are requestACL's.
func (c *call) checkUnsupported() error {
	for _, name := range unsupportedHeaders {
		if c.header(name) != nil {
			return s3err.NotImplemented.With("The " + name + " header is not implemented.")
		}
	}
	return nil
}

// requestMetadata collects the metadata to store from the request headers: the standard
// headers and x-amz-meta-*, under lower-case names. The aws-chunked content coding is a
// transfer detail and is not stored.
func (c *call) requestMetadata() (map[string]string, error) {
	md := make(map[string]string, 4)
	userSize := 0
	for _, f := range c.r.Fields() {
		name := f.Name
		switch {
		case hasPrefixFold(name, "x-amz-meta-"):
			key := strings.ToLower(string(name))
			val := string(f.Value)
			userSize += len(key) - len("x-amz-meta-") + len(val)
			if old, ok := md[key]; ok {
				val = old + "," + val // repeated fields combine, as HTTP says
			}
			md[key] = val
		case httpwire.EqualFold(name, "content-encoding"):
			if v := stripAWSChunked(string(f.Value)); v != "" {
				md["content-encoding"] = v
			}
		default:
			for _, sh := range storedHeaders {
				if sh.key != "content-encoding" && httpwire.EqualFold(name, sh.key) {
					md[sh.key] = string(f.Value)
				}
			}
		}
	}
	if c.auth.Presigned {
		for i := 0; i < c.query.Len(); i++ {
			if name := c.query.Name(i); hasPrefixFold(name, "x-amz-meta-") {
				key := strings.ToLower(string(name))
				userSize += len(key) - len("x-amz-meta-") + len(c.query.Value(i))
				md[key] = string(c.query.Value(i))
			}
		}
	}
	if userSize > maxUserMetadata {
		return nil, s3err.MetadataTooLarge
	}
	return md, nil
}

// stripAWSChunked removes the aws-chunked coding from a Content-Encoding list.
func stripAWSChunked(v string) string {
	if !strings.Contains(strings.ToLower(v), "aws-chunked") {
		return v
	}
	var keep []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// storedChecksum returns the checksum stored in an object's metadata: its header name, its
// value as S3 sends it, and its type; alg is "" when there is none.
func storedChecksum(md map[string]string) (alg, value, typ string) {
	for a := checksum.CRC32; a <= checksum.SHA256; a++ {
		if v, ok := md[a.HeaderName()]; ok {
			typ = md[mdChecksumType]
			if typ == "" {
				typ = checksum.FullObject.String()
			}
			return a.HeaderName(), v, typ
		}
	}
	return "", "", ""
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && httpwire.EqualFold(b[:len(prefix)], prefix)
}
