package s3frontend

import (
	"net/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// Object versioning is not implemented yet: every object has one version, the "null"
// version S3 gives an object written while its bucket was never versioned (or suspended).
// A bucket's versioning state is stored all the same, as S3 would store it, so that the
// versioning to come starts from the right state:
//   - never set: GetBucketVersioning answers an empty VersioningConfiguration;
//   - Suspended: stored and reported; writes make null versions, which they do today;
//   - Enabled: NotImplemented, since it promises versions the core cannot keep yet.

// errVersioningEnabled answers PutBucketVersioning with Status Enabled.
var errVersioningEnabled = s3err.NotImplemented.With("Object versioning is not implemented yet: a bucket can be unversioned or Suspended, not Enabled.")

// bucketConfig returns the bucket's configuration documents, NotImplemented when the
// object layer keeps none.
func (c *call) bucketConfig() (map[string]string, error) {
	if c.h.configs == nil {
		return nil, s3err.NotImplemented.With("This object layer keeps no bucket configuration.")
	}
	return c.h.configs.BucketConfig(c.context(), c.bucket)
}

// setBucketConfig replaces (doc "": removes) one of the bucket's configuration documents.
func (c *call) setBucketConfig(name, doc string) error {
	if c.h.configs == nil {
		return s3err.NotImplemented.With("This object layer keeps no bucket configuration.")
	}
	return c.h.configs.SetBucketConfig(c.context(), c.bucket, name, doc)
}

// deleteBucketConfig serves the DELETE of a bucket sub-resource whose document is name:
// 204 whether or not there was one, as S3 answers.
func (c *call) deleteBucketConfig(name string) error {
	if err := c.setBucketConfig(name, ""); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// empty answers 200 with no body.
func (c *call) empty() error {
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketVersioning serves GetBucketVersioning: the stored status, none for a bucket
// never versioned.
func (c *call) getBucketVersioning() error {
	cfg, err := c.bucketConfig()
	if err != nil {
		return err
	}
	x := c.startXML("VersioningConfiguration")
	if st := cfg[objstore.BucketConfigVersioning]; st != "" {
		x.String("Status", st)
	}
	x.Close("VersioningConfiguration")
	c.sendXML(http.StatusOK)
	return nil
}

// putBucketVersioning serves PutBucketVersioning: Suspended is stored, Enabled and MFA
// delete are NotImplemented, a document without a Status changes nothing.
func (c *call) putBucketVersioning() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	v, err := s3xml.ParseVersioning(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	switch {
	case v.Status == "Enabled":
		return errVersioningEnabled
	case v.MFADelete == "Enabled":
		return s3err.NotImplemented.With("MFA delete is not implemented.")
	case v.Status == "Suspended":
		if err := c.setBucketConfig(objstore.BucketConfigVersioning, v.Status); err != nil {
			return err
		}
	default:
		if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
			return err
		}
	}
	return c.empty()
}

// nullVersionOnly checks the request's versionId (already well-formed, the router saw to
// that): "null" or none addresses the object itself, any other id a version that cannot
// exist, NoSuchVersion once the bucket is known to exist.
func (c *call) nullVersionOnly() error {
	v, ok := c.query.Get("versionId")
	if !ok || string(v) == router.NullVersion {
		return nil
	}
	if c.anonymous {
		return s3err.AccessDenied // an anonymous client learns nothing of the bucket
	}
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return err
	}
	return s3err.NoSuchVersion.WithExtra("Key", c.key).WithExtra("VersionId", string(v))
}

// listObjectVersions serves ListObjectVersions. With no versioning, each object is its
// own only version, "null" and latest; paging by key-marker alone suffices, the
// version-id-marker of a null version adding nothing.
func (c *call) listObjectVersions() error {
	p, err := c.parseListParams("max-keys")
	if err != nil {
		return err
	}
	keyMarker := c.query.GetString("key-marker")
	versionMarker, hasVersionMarker := c.query.Get("version-id-marker")
	if hasVersionMarker && keyMarker == "" {
		return s3err.InvalidArgument.With("A version-id marker cannot be specified without a key marker.")
	}
	res, err := c.list(p, keyMarker)
	if err != nil {
		return err
	}
	x := c.startXML("ListVersionsResult")
	x.String("Name", c.bucket)
	p.name(x, "Prefix", p.prefix)
	p.name(x, "KeyMarker", keyMarker)
	x.Bytes("VersionIdMarker", versionMarker)
	x.Int("MaxKeys", int64(p.maxKeys))
	if p.delimiter != "" {
		p.name(x, "Delimiter", p.delimiter)
	}
	x.Bool("IsTruncated", res.IsTruncated)
	if res.IsTruncated {
		p.name(x, "NextKeyMarker", res.NextMarker)
		if n := len(res.Prefixes); n == 0 || res.Prefixes[n-1] != res.NextMarker {
			// The page ended on a version, not a common prefix.
			x.String("NextVersionIdMarker", router.NullVersion)
		}
	}
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	c.writeEntries(x, &p, res, entryVersion)
	x.Close("ListVersionsResult")
	c.sendXML(http.StatusOK)
	return nil
}
