package s3frontend

import (
	"errors"
	"io"
	"net/http"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// deleteObject serves DeleteObject: 204 whether or not the key existed, as S3 answers. In
// a versioned bucket, without a versionId it makes a delete marker; with one it removes
// that version (NoSuchVersion when there is none, AccessDenied when it is locked).
func (c *call) deleteObject() error {
	if c.h.versions == nil {
		if err := c.nullVersionOnly(); err != nil {
			return err
		}
		err := c.h.layer.DeleteObject(c.context(), c.bucket, c.key)
		if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	res, err := c.deleteVersion(c.key, c.versionParam())
	if err != nil {
		return c.versionErr(err)
	}
	if res.DeleteMarker {
		c.w.Header().Set("x-amz-delete-marker", "true")
	}
	c.setVersionHeader(res.VersionID)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteVersion deletes key (version id: that version) as DeleteObject does; a missing key
// of an unversioned bucket is no error.
func (c *call) deleteVersion(key, id string) (objstore.DeleteResult, error) {
	res, err := c.h.versions.DeleteVersion(c.context(), c.bucket, key, objstore.DeleteOptions{
		VersionID:        id,
		BypassGovernance: c.bypassGovernance(key),
	})
	if err != nil && errors.Is(err, objstore.ErrObjectNotFound) && !errors.Is(err, objstore.ErrNoSuchVersion) {
		return objstore.DeleteResult{}, nil
	}
	return res, err
}

// bypassGovernance reports whether the request asks to bypass governance retention of key
// (x-amz-bypass-governance-retention: true) and its caller may
// (s3:BypassGovernanceRetention). A caller that may not is treated as one that did not
// ask: the retention then refuses the change with AccessDenied, as S3 does.
func (c *call) bypassGovernance(key string) bool {
	v := c.header("x-amz-bypass-governance-retention")
	return v != nil && httpwire.EqualFold(trimSpace(v), "true") && c.mayBypassGovernance(key)
}

// deleteObjects serves DeleteObjects (POST ?delete): up to 1000 keys, each reported as
// deleted (a missing key included, as S3 does) or with its error; quiet mode reports only
// the errors.
func (c *call) deleteObjects() error {
	if c.header("content-md5") == nil && !hasChecksumHeader(c) {
		return s3err.InvalidRequest.With("Missing required header for this request: Content-MD5")
	}
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	req, err := s3xml.ParseDelete(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	keys := make([]string, 0, len(req.Objects))
	idx := make([]int, 0, len(req.Objects)) // keys[j] is req.Objects[idx[j]]
	errs := make([]error, len(req.Objects))
	results := make([]objstore.DeleteResult, len(req.Objects))
	for i, o := range req.Objects {
		switch {
		case o.VersionID != "" && !router.ValidVersionID([]byte(o.VersionID)):
			errs[i] = router.InvalidVersionID
		case o.VersionID != "" && o.VersionID != router.NullVersion && c.h.versions == nil:
			errs[i] = s3err.NoSuchVersion
		case len(o.Key) > 1024:
			errs[i] = s3err.KeyTooLong
		case !c.mayDelete(o.Key, o.VersionID):
			errs[i] = s3err.AccessDenied
		case c.h.versions != nil:
			results[i], errs[i] = c.deleteVersion(o.Key, o.VersionID)
		default:
			keys = append(keys, o.Key)
			idx = append(idx, i)
		}
	}
	if len(keys) > 0 {
		for j, err := range c.h.layer.DeleteObjects(c.context(), c.bucket, keys) {
			errs[idx[j]] = err
		}
	}
	x := c.startXML("DeleteResult")
	for i, o := range req.Objects {
		err := errs[i]
		if err == nil || errors.Is(err, objstore.ErrObjectNotFound) && !errors.Is(err, objstore.ErrNoSuchVersion) {
			if !req.Quiet {
				x.Open("Deleted")
				x.String("Key", o.Key)
				if o.VersionID != "" {
					x.String("VersionId", o.VersionID)
				}
				if r := results[i]; r.DeleteMarker {
					x.Bool("DeleteMarker", true)
					x.String("DeleteMarkerVersionId", r.VersionID)
				}
				x.Close("Deleted")
			}
			continue
		}
		if errors.Is(err, objstore.ErrBucketNotFound) {
			return err // the whole request fails, as S3's does
		}
		e := s3err.From(err)
		x.Open("Error")
		x.String("Key", o.Key)
		if o.VersionID != "" {
			x.String("VersionId", o.VersionID)
		}
		x.String("Code", e.Code)
		x.String("Message", e.Message)
		x.Close("Error")
	}
	x.Close("DeleteResult")
	c.sendXML(http.StatusOK)
	return nil
}

// hasChecksumHeader reports whether the request carries an x-amz-checksum-<algorithm> or
// an x-amz-sdk-checksum-algorithm header (whose trailer or header the body verifier checks).
func hasChecksumHeader(c *call) bool {
	for _, f := range c.r.Fields() {
		if hasPrefixFold(f.Name, "x-amz-checksum-") || hasPrefixFold(f.Name, "x-amz-sdk-checksum-algorithm") ||
			hasPrefixFold(f.Name, "x-amz-trailer") {
			return true
		}
	}
	return false
}

// readXMLBody reads a request document of at most the configured size through the body
// verifier (signature payload hash, Content-MD5, checksums), to its verified end.
func (c *call) readXMLBody() ([]byte, error) {
	body, err := c.h.verifier.Body(&c.sig, &c.auth, c.r.Body, sigv4.BodyOptions{})
	if err != nil {
		return nil, err
	}
	if c.r.ContentLength > c.h.maxXML {
		return nil, s3err.MaxMessageLengthExceeded
	}
	doc, err := io.ReadAll(io.LimitReader(body, c.h.maxXML+1))
	if err != nil {
		return nil, err
	}
	if int64(len(doc)) > c.h.maxXML {
		return nil, s3err.MaxMessageLengthExceeded
	}
	return doc, nil
}
