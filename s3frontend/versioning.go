package s3frontend

import (
	"errors"
	"net/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// Object versioning: the object layer keeps the versions (objstore.VersionedLayer); this
// face names them. A bucket's versioning state is its "versioning" configuration document:
//   - never set: GetBucketVersioning answers an empty VersioningConfiguration, every
//     object is its own null version, and no x-amz-version-id header is sent for it;
//   - Enabled: every write adds a version, whose id x-amz-version-id tells;
//   - Suspended: writes replace the null version ("null" is sent as its id).
// A bucket never goes back to unversioned. A layer without the capability has null
// versions only, and Enabled answers NotImplemented there.

// errVersioningEnabled answers PutBucketVersioning with Status Enabled on a layer that
// keeps no versions.
var errVersioningEnabled = s3err.NotImplemented.With("This object layer keeps no versions: a bucket can be unversioned or Suspended, not Enabled.")

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
	// The layer publishes EventBucketConfig, even on error (the record may hold the
	// change): the handler's caches drop the bucket there.
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
	case v.MFADelete == "Enabled":
		return s3err.NotImplemented.With("MFA delete is not implemented.")
	case v.Status == "Enabled" && c.h.versions == nil:
		return errVersioningEnabled
	case v.Status == "Suspended" && c.objectLockEnabled():
		return s3err.InvalidBucketState.With("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
	case v.Status == "Enabled" || v.Status == "Suspended":
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
// that) where only the latest version can be served (a layer without versions, or one
// that cannot change a given version's metadata): none, or the latest version's id,
// addresses the object itself; in a layer without versions "null" is its id. A noncurrent version is NotImplemented there, an id
// of no version NoSuchVersion once the bucket is known to exist.
func (c *call) nullVersionOnly() error {
	v, ok := c.query.Get("versionId")
	if !ok || c.h.versions == nil && string(v) == router.NullVersion {
		return nil
	}
	if c.anonymous {
		return s3err.AccessDenied // an anonymous client learns nothing of the bucket
	}
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return err
	}
	if c.h.versions != nil {
		info, err := c.h.versions.StatVersion(c.context(), c.bucket, c.key, string(v))
		switch {
		case err == nil && info.Version.IsLatest:
			return nil
		case err == nil:
			return s3err.NotImplemented.With("This operation on a noncurrent version is not implemented.")
		case !errors.Is(err, objstore.ErrNoSuchVersion):
			return c.versionErr(err)
		}
	}
	return s3err.NoSuchVersion.WithExtra("Key", c.key).WithExtra("VersionId", string(v))
}

// statSubresource returns the information of the version a sub-resource request
// (tagging, ACL, attributes) names: the latest without versionId.
func (c *call) statSubresource() (objstore.ObjectInfo, error) {
	if c.versionParam() == "" || c.h.versions == nil {
		if err := c.nullVersionOnly(); err != nil {
			return objstore.ObjectInfo{}, err
		}
		info, err := c.h.layer.StatObject(c.context(), c.bucket, c.key)
		return info, c.versionErr(err)
	}
	if c.anonymous {
		return objstore.ObjectInfo{}, s3err.AccessDenied // an anonymous client learns nothing of versions
	}
	info, err := c.h.versions.StatVersion(c.context(), c.bucket, c.key, c.versionParam())
	return info, c.versionErr(err)
}

// updateSubresource changes the metadata of the version a sub-resource request names.
// A layer that cannot change a given version's (objstore.VersionMetadataUpdater) serves
// the latest only, as nullVersionOnly says.
func (c *call) updateSubresource(patch objstore.MetadataPatch) (objstore.ObjectInfo, error) {
	u, ok := c.h.layer.(objstore.VersionMetadataUpdater)
	if !ok || c.versionParam() == "" || c.h.versions == nil {
		if err := c.nullVersionOnly(); err != nil {
			return objstore.ObjectInfo{}, err
		}
		info, err := c.h.layer.UpdateObjectMetadata(c.context(), c.bucket, c.key, patch)
		return info, c.versionErr(err)
	}
	if c.anonymous {
		return objstore.ObjectInfo{}, s3err.AccessDenied
	}
	info, err := u.UpdateVersionMetadata(c.context(), c.bucket, c.key, c.versionParam(), patch)
	return info, c.versionErr(err)
}

// listObjectVersions serves ListObjectVersions: every version of every key, each key's
// newest first, delete markers as <DeleteMarker>, paged by key-marker and
// version-id-marker.
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
	if c.h.versions == nil {
		return c.listNullVersions(p, keyMarker, versionMarker)
	}
	res, err := c.h.versions.ListObjectVersions(c.context(), c.bucket, objstore.ListVersionsOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker,
		VersionIDMarker: string(versionMarker), MaxKeys: p.maxKeys,
	})
	if err != nil {
		return err
	}
	x := c.startVersionsXML(&p, keyMarker, versionMarker, res.IsTruncated, res.NextKeyMarker, res.NextVersionIDMarker)
	for i := range res.Versions {
		o := &res.Versions[i]
		if o.Version.DeleteMarker {
			x.Open("DeleteMarker")
			p.name(x, "Key", o.Key)
			x.String("VersionId", o.Version.VersionID)
			x.Bool("IsLatest", o.Version.IsLatest)
			x.Time("LastModified", o.ModTime)
			c.writeOwner(x)
			x.Close("DeleteMarker")
			continue
		}
		c.writeObjectEntry(x, &p, o, entryVersion)
	}
	for _, pre := range res.Prefixes {
		x.Open("CommonPrefixes")
		p.name(x, "Prefix", pre)
		x.Close("CommonPrefixes")
	}
	x.Close("ListVersionsResult")
	c.sendXML(http.StatusOK)
	return nil
}

// listNullVersions serves ListObjectVersions for a layer without versions: each object is
// its own only version, "null" and latest; paging by key-marker alone suffices, the
// version-id-marker of a null version adding nothing.
func (c *call) listNullVersions(p listParams, keyMarker string, versionMarker []byte) error {
	res, err := c.list(p, keyMarker)
	if err != nil {
		return err
	}
	nextVersion := ""
	if n := len(res.Prefixes); n == 0 || res.Prefixes[n-1] != res.NextMarker {
		nextVersion = router.NullVersion // the page ended on a version, not a common prefix
	}
	x := c.startVersionsXML(&p, keyMarker, versionMarker, res.IsTruncated, res.NextMarker, nextVersion)
	c.writeEntries(x, &p, res, entryVersion)
	x.Close("ListVersionsResult")
	c.sendXML(http.StatusOK)
	return nil
}

// versionParam returns the request's versionId ("" when it has none).
func (c *call) versionParam() string { return c.query.GetString("versionId") }

// bucketVersioned reports whether the bucket's versioning was ever turned on: then every
// version's id is sent, "null" included, as S3 does.
func (c *call) bucketVersioned() bool {
	if c.h.versions == nil {
		return false
	}
	v, err := c.h.versions.BucketVersioning(c.context(), c.bucket)
	return err == nil && v != objstore.Unversioned
}

// setVersionHeader sends x-amz-version-id for a version: a null version's only in a
// bucket whose versioning was ever turned on.
func (c *call) setVersionHeader(id string) {
	if id != "" && (id != router.NullVersion || c.bucketVersioned()) {
		c.w.Header().Set("x-amz-version-id", id)
	}
}

// versionErr adds to a read's error what S3 tells with it: for a delete marker, the
// x-amz-delete-marker and x-amz-version-id headers; for a missing version, its key and id.
func (c *call) versionErr(err error) error {
	var dm *objstore.DeleteMarkerError
	switch {
	case errors.As(err, &dm):
		hdr := c.w.Header()
		hdr.Set("x-amz-delete-marker", "true")
		hdr.Set("x-amz-version-id", dm.VersionID)
		if dm.ByID {
			hdr.Set("Allow", "DELETE")
		}
	case errors.Is(err, objstore.ErrNoSuchVersion):
		return s3err.NoSuchVersion.WithExtra("Key", c.key).WithExtra("VersionId", c.versionParam())
	}
	return err
}

// openNamed opens the version the request names (the latest when none).
func (c *call) openNamed() (objstore.ObjectHandle, error) {
	if c.h.versions == nil {
		if err := c.nullVersionOnly(); err != nil {
			return nil, err
		}
		return c.h.layer.OpenObject(c.readContext(), c.bucket, c.key)
	}
	h, err := c.h.versions.OpenVersion(c.readContext(), c.bucket, c.key, c.versionParam())
	return h, c.versionErr(err)
}

// statNamed returns the information of the version the request names.
func (c *call) statNamed() (objstore.ObjectInfo, error) {
	if c.h.versions == nil {
		if err := c.nullVersionOnly(); err != nil {
			return objstore.ObjectInfo{}, err
		}
		return c.h.layer.StatObject(c.readContext(), c.bucket, c.key)
	}
	info, err := c.h.versions.StatVersion(c.readContext(), c.bucket, c.key, c.versionParam())
	return info, c.versionErr(err)
}

// objectLockEnabled reports whether the bucket was created with object lock.
func (c *call) objectLockEnabled() bool {
	cfg, err := c.bucketConfig()
	return err == nil && cfg[objstore.BucketConfigObjectLock] != ""
}

// copySourceErr is the error of a copy whose source version is a delete marker: S3
// answers 400 InvalidRequest for a marker named by id, 404 NoSuchKey for a latest one.
func (c *call) copySourceErr(err error) error {
	var dm *objstore.DeleteMarkerError
	if errors.As(err, &dm) && dm.ByID {
		return s3err.InvalidRequest.With("The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	return err
}

// startVersionsXML begins a ListVersionsResult page: what the request asked, whether the
// page is truncated, and then where the next one starts (nextVersion "" when the page
// ended on a common prefix).
func (c *call) startVersionsXML(p *listParams, keyMarker string, versionMarker []byte, truncated bool, nextKey, nextVersion string) *s3xml.Writer {
	x := c.startXML("ListVersionsResult")
	x.String("Name", c.bucket)
	p.name(x, "Prefix", p.prefix)
	p.name(x, "KeyMarker", keyMarker)
	x.Bytes("VersionIdMarker", versionMarker)
	x.Int("MaxKeys", int64(p.maxKeys))
	if p.delimiter != "" {
		p.name(x, "Delimiter", p.delimiter)
	}
	x.Bool("IsTruncated", truncated)
	if truncated {
		p.name(x, "NextKeyMarker", nextKey)
		if nextVersion != "" {
			x.String("NextVersionIdMarker", nextVersion)
		}
	}
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	return x
}
