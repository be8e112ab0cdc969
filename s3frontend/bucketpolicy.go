package s3frontend

import (
	"net/http"
	"strconv"

	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// A bucket policy is stored as sent (S3 returns the document as it was put), in the
// bucket's configuration record, and parsed again when the decision cache reads it. The
// layer's EventBucketConfig, published by every change of a document (on this node or,
// in a cluster, another), invalidates the decision cache (handler.go).

// putBucketPolicy serves PutBucketPolicy: MalformedPolicy, with what is wrong, for a
// document S3 would refuse (invalid JSON, unknown elements, a Resource outside the
// bucket, over 20 KiB).
func (c *call) putBucketPolicy() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	p, err := policy.Parse(doc, policy.Bucket, policy.MaxBucketSize)
	if err == nil {
		err = p.CheckBucketResources(c.bucket)
	}
	if pe, ok := err.(*policy.Error); ok {
		return s3err.MalformedPolicy.With(pe.Message)
	}
	if err != nil {
		return err
	}
	if err := c.setBucketConfig(objstore.BucketConfigPolicy, string(doc)); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// storedPolicy returns the bucket's policy document as put: NoSuchBucketPolicy when
// there is none.
func (c *call) storedPolicy() (string, error) {
	cfg, err := c.bucketConfig()
	if err != nil {
		return "", err
	}
	doc := cfg[objstore.BucketConfigPolicy]
	if doc == "" {
		return "", s3err.NoSuchBucketPolicy.WithExtra("BucketName", c.bucket)
	}
	return doc, nil
}

// getBucketPolicy serves GetBucketPolicy: the document as put.
func (c *call) getBucketPolicy() error {
	doc, err := c.storedPolicy()
	if err != nil {
		return err
	}
	hdr := c.w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(doc)))
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(bytesOf(doc))
	return nil
}

// deleteBucketPolicy serves DeleteBucketPolicy: 204 whether or not there was one.
func (c *call) deleteBucketPolicy() error {
	if err := c.deleteBucketConfig(objstore.BucketConfigPolicy); err != nil {
		return err
	}
	return nil
}

// getBucketPolicyStatus serves GetBucketPolicyStatus: public when a statement allows
// everyone ("*") without a condition, as S3 judges it.
func (c *call) getBucketPolicyStatus() error {
	doc, err := c.storedPolicy()
	if err != nil {
		return err
	}
	public := false
	if p, err := policy.Parse([]byte(doc), policy.Bucket, 0); err == nil {
		for _, s := range p.Statements {
			if s.Effect == policy.Allow && !s.NotPrincipal && len(s.Conditions) == 0 && contains(s.Principals, "*") {
				public = true
			}
		}
	}
	x := c.startXML("PolicyStatus")
	x.String("IsPublic", strconv.FormatBool(public))
	x.Close("PolicyStatus")
	c.sendXML(http.StatusOK)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
