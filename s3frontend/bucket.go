package s3frontend

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// listBuckets serves ListBuckets, with its optional prefix, max-buckets, bucket-region and
// continuation-token (an opaque form of the last bucket name returned).
func (c *call) listBuckets() error {
	buckets, err := c.h.layer.ListBuckets(c.context())
	if err != nil {
		return err
	}
	prefix := c.query.GetString("prefix")
	limit := int64(10000)
	if v, ok := c.query.Get("max-buckets"); ok {
		n, good := parseDigits(v)
		if !good || n < 1 || n > 10000 {
			return s3err.InvalidArgument.With("max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	after := ""
	if v, ok := c.query.Get("continuation-token"); ok {
		b, err := base64.RawURLEncoding.DecodeString(string(v))
		if err != nil {
			return s3err.InvalidContinuationToken
		}
		after = string(b)
	}
	if v, ok := c.query.Get("bucket-region"); ok && string(v) != c.h.region {
		buckets = nil
	}
	x := c.startXML("ListAllMyBucketsResult")
	c.writeOwner(x)
	x.Open("Buckets")
	var n int64
	next := ""
	for _, b := range buckets {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after && after != "" {
			continue
		}
		if n == limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(b.Name))
			break
		}
		n++
		x.Open("Bucket")
		x.String("Name", b.Name)
		x.Time("CreationDate", b.Created)
		x.String("BucketRegion", c.h.region)
		x.Close("Bucket")
		after = b.Name
	}
	x.Close("Buckets")
	if next != "" {
		// The token names the last bucket listed: the next page starts after it.
		x.String("ContinuationToken", base64.RawURLEncoding.EncodeToString([]byte(after)))
	}
	if prefix != "" {
		x.String("Prefix", prefix)
	}
	x.Close("ListAllMyBucketsResult")
	c.sendXML(http.StatusOK)
	return nil
}

// writeOwner appends the <Owner> element.
func (c *call) writeOwner(x *s3xml.Writer) {
	x.Open("Owner")
	x.String("ID", c.h.ownerID)
	x.String("DisplayName", c.h.ownerName)
	x.Close("Owner")
}

// createBucket serves CreateBucket: an optional CreateBucketConfiguration whose
// LocationConstraint must be this server's region (or absent).
func (c *call) createBucket() error {
	if err := c.checkUnsupported(); err != nil {
		return err
	}
	if c.wantsObjectLock() && c.h.versions == nil {
		return s3err.NotImplemented.With("This object layer keeps no versions: no object lock.")
	}
	canned, err := c.requestACL()
	if err != nil {
		return err
	}
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	loc, err := s3xml.ParseCreateBucket(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	if loc != "" && loc != c.h.region {
		return s3err.IllegalLocationConstraint.With("The " + loc + " location constraint is incompatible for the region specific endpoint this request was sent to.")
	}
	if err := c.h.layer.MakeBucket(c.context(), c.bucket, objstore.MakeBucketOptions{Location: c.h.region}); err != nil {
		return err
	}
	c.h.authz.Invalidate() // a cached "no policy" of an earlier bucket of that name
	if c.wantsObjectLock() {
		// Not atomic with the creation: a failure leaves the bucket without object lock,
		// and the client an error.
		if err := c.createLockedBucket(); err != nil {
			return err
		}
	}
	if canned != "" && canned != aclPrivate {
		// Not atomic with the creation: a failure leaves the bucket private, the safe side.
		if err := c.setBucketConfig(objstore.BucketConfigACL, canned); err != nil {
			return err
		}
	}
	hdr := c.w.Header()
	hdr.Set("Location", "/"+c.bucket)
	hdr.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// headBucket serves HeadBucket.
func (c *call) headBucket() error {
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return err
	}
	c.w.Header().Set("x-amz-bucket-region", c.h.region)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucket serves DeleteBucket: BucketNotEmpty while it holds an object.
func (c *call) deleteBucket() error {
	if err := c.h.layer.DeleteBucket(c.context(), c.bucket); err != nil {
		return err
	}
	c.h.authz.Invalidate() // its policy went with it
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// getBucketLocation serves GetBucketLocation: empty for us-east-1, as S3 answers.
func (c *call) getBucketLocation() error {
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return err
	}
	x := c.startXMLNoRoot()
	loc := c.h.region
	if loc == "us-east-1" {
		loc = ""
	}
	x.B = append(x.B, `<LocationConstraint xmlns="`+s3xml.Namespace+`">`...)
	x.B = s3xml.AppendEscaped(x.B, loc)
	x.Close("LocationConstraint")
	c.sendXML(http.StatusOK)
	return nil
}

// startXMLNoRoot starts a document without its root element.
func (c *call) startXMLNoRoot() *s3xml.Writer {
	x := &c.xml
	x.Reset()
	x.Declaration()
	return x
}
