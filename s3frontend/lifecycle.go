package s3frontend

import (
	"errors"
	"net/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// A bucket's lifecycle configuration is its "lifecycle" document, validated and stored as
// the client sent it, and returned as stored. The LifecycleScanner applies it and GET and
// HEAD announce it (x-amz-expiration, expiration.go).

// getBucketLifecycle serves GetBucketLifecycleConfiguration: NoSuchLifecycleConfiguration
// when there is none.
func (c *call) getBucketLifecycle() error {
	cfg, err := c.bucketConfig()
	if err != nil {
		return err
	}
	doc := cfg[objstore.BucketConfigLifecycle]
	if doc == "" {
		return s3err.NoSuchLifecycleConfiguration
	}
	c.xml.Reset()
	c.xml.B = append(c.xml.B, doc...)
	c.sendXML(http.StatusOK)
	return nil
}

// putBucketLifecycle serves PutBucketLifecycleConfiguration: the document must pass
// s3xml.ParseLifecycle, whose errors carry S3's codes.
func (c *call) putBucketLifecycle() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	if _, err := s3xml.ParseLifecycle(doc); err != nil {
		var re *s3xml.RuleError
		if errors.As(err, &re) {
			return (&s3err.Error{Code: re.Code, Status: ruleErrorStatus(re.Code), Message: re.Msg})
		}
		return s3err.MalformedXML
	}
	if err := c.setBucketConfig(objstore.BucketConfigLifecycle, string(doc)); err != nil {
		return err
	}
	return c.empty()
}

// ruleErrorStatus is the HTTP status of an S3 error code a document's content earns.
func ruleErrorStatus(code string) int {
	if code == s3err.NotImplemented.Code {
		return http.StatusNotImplemented
	}
	return http.StatusBadRequest
}

// deleteBucketLifecycle serves DeleteBucketLifecycle.
func (c *call) deleteBucketLifecycle() error {
	return c.deleteBucketConfig(objstore.BucketConfigLifecycle)
}
