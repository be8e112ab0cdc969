package s3frontend

import (
	"net/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// Object tags live in the object's metadata (mdTagging), changed through the object
// layer's metadata update, which rewrites neither the data nor the ETag nor the
// modification time, as S3's tagging does not. Bucket tags are the bucket's "tagging"
// configuration document, stored in the same encoded form.

// getObjectTagging serves GetObjectTagging: an empty TagSet for an object without tags.
func (c *call) getObjectTagging() error {
	info, err := c.statSubresource()
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	return c.writeTagging(info.Metadata[mdTagging])
}

// putObjectTagging serves PutObjectTagging: the set replaces the object's tags (an empty
// set removes them).
func (c *call) putObjectTagging() error {
	tags, err := c.readTagging(maxObjectTags)
	if err != nil {
		return err
	}
	patch := objstore.MetadataPatch{Delete: []string{mdTagging}}
	if len(tags) > 0 {
		patch = objstore.MetadataPatch{Set: map[string]string{mdTagging: encodeTags(tags)}}
	}
	info, err := c.updateSubresource(patch)
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	return c.empty()
}

// deleteObjectTagging serves DeleteObjectTagging.
func (c *call) deleteObjectTagging() error {
	patch := objstore.MetadataPatch{Delete: []string{mdTagging}}
	info, err := c.updateSubresource(patch)
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// getBucketTagging serves GetBucketTagging: NoSuchTagSet for a bucket without tags.
func (c *call) getBucketTagging() error {
	cfg, err := c.bucketConfig()
	if err != nil {
		return err
	}
	stored := cfg[objstore.BucketConfigTagging]
	if stored == "" {
		return s3err.NoSuchTagSet
	}
	return c.writeTagging(stored)
}

// putBucketTagging serves PutBucketTagging: the set replaces the bucket's tags; an empty
// set removes them, as DeleteBucketTagging does.
func (c *call) putBucketTagging() error {
	tags, err := c.readTagging(maxBucketTags)
	if err != nil {
		return err
	}
	if err := c.setBucketConfig(objstore.BucketConfigTagging, encodeTags(tags)); err != nil {
		return err
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteBucketTagging serves DeleteBucketTagging.
func (c *call) deleteBucketTagging() error {
	return c.deleteBucketConfig(objstore.BucketConfigTagging)
}
