package s3frontend

import (
	"errors"
	"net/http"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// Object lock. A bucket created with x-amz-bucket-object-lock-enabled keeps its
// ObjectLockConfiguration as its "objectlock" configuration document (the form this face
// writes, which ParseObjectLockConfig reads back) and is versioned for good. The lock of
// each version (retention, legal hold) is the object layer's, which refuses to delete or
// replace a locked version whoever asks: S3, the mount, lifecycle.

// Errors of object lock.
var (
	errNoLockConfig = s3err.InvalidRequest.With("Bucket is missing Object Lock Configuration")
	// errLockConfigNotFound answers GetObjectLockConfiguration of a bucket without one.
	errLockConfigNotFound = &s3err.Error{Code: "ObjectLockConfigurationNotFoundError", Status: http.StatusNotFound,
		Message: "Object Lock configuration does not exist for this bucket"}
	// errNoRetention answers GetObjectRetention and GetObjectLegalHold of a version with none.
	errNoRetention = &s3err.Error{Code: "NoSuchObjectLockConfiguration", Status: http.StatusNotFound,
		Message: "The specified object does not have a ObjectLock configuration"}
)

// lockConfigDoc renders a configuration as the document the bucket keeps.
func lockConfigDoc(cfg s3xml.ObjectLockConfig) string {
	var x s3xml.Writer
	writeLockConfig(&x, cfg)
	return string(x.B)
}

func writeLockConfig(x *s3xml.Writer, cfg s3xml.ObjectLockConfig) {
	x.Root("ObjectLockConfiguration")
	x.String("ObjectLockEnabled", "Enabled")
	if cfg.Mode != "" {
		x.Open("Rule")
		x.Open("DefaultRetention")
		x.String("Mode", cfg.Mode)
		if cfg.Days > 0 {
			x.Int("Days", int64(cfg.Days))
		} else {
			x.Int("Years", int64(cfg.Years))
		}
		x.Close("DefaultRetention")
		x.Close("Rule")
	}
	x.Close("ObjectLockConfiguration")
}

// lockConfig returns the bucket's object-lock configuration; false for a bucket without
// object lock. A bucket never versioned has none, and is answered without reading its
// configuration (the versioning state is cached by the layer).
func (c *call) lockConfig() (s3xml.ObjectLockConfig, bool, error) {
	if !c.bucketVersioned() {
		return s3xml.ObjectLockConfig{}, false, nil
	}
	docs, err := c.bucketConfig()
	if err != nil {
		return s3xml.ObjectLockConfig{}, false, err
	}
	doc := docs[objstore.BucketConfigObjectLock]
	if doc == "" {
		return s3xml.ObjectLockConfig{}, false, nil
	}
	cfg, err := s3xml.ParseObjectLockConfig([]byte(doc))
	if err != nil {
		return s3xml.ObjectLockConfig{}, false, err
	}
	return cfg, true, nil
}

// createLockedBucket completes CreateBucket with x-amz-bucket-object-lock-enabled: the
// bucket is versioned and holds object lock.
func (c *call) createLockedBucket() error {
	if err := c.setBucketConfig(objstore.BucketConfigVersioning, "Enabled"); err != nil {
		return err
	}
	return c.setBucketConfig(objstore.BucketConfigObjectLock, lockConfigDoc(s3xml.ObjectLockConfig{}))
}

// wantsObjectLock reports whether CreateBucket asks for object lock.
func (c *call) wantsObjectLock() bool {
	v := c.header("x-amz-bucket-object-lock-enabled")
	return v != nil && httpwire.EqualFold(trimSpace(v), "true")
}

// getObjectLockConfig serves GetObjectLockConfiguration.
func (c *call) getObjectLockConfig() error {
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return err
	}
	cfg, ok, err := c.lockConfig()
	if err != nil {
		return err
	}
	if !ok {
		return errLockConfigNotFound
	}
	x := c.startXMLNoRoot()
	writeLockConfig(x, cfg)
	c.sendXML(http.StatusOK)
	return nil
}

// putObjectLockConfig serves PutObjectLockConfiguration: the default retention of a bucket
// with object lock, or object lock turned on for a bucket whose versioning is Enabled.
func (c *call) putObjectLockConfig() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	cfg, err := s3xml.ParseObjectLockConfig(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	if c.h.versions == nil {
		return s3err.NotImplemented.With("This object layer keeps no versions.")
	}
	v, err := c.h.versions.BucketVersioning(c.context(), c.bucket)
	if err != nil {
		return err
	}
	if v != objstore.VersioningEnabled {
		return s3err.InvalidBucketState.With("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
	}
	if err := c.setBucketConfig(objstore.BucketConfigObjectLock, lockConfigDoc(cfg)); err != nil {
		return err
	}
	return c.empty()
}

// Metadata keys under which CreateMultipartUpload keeps the lock headers for the
// completion (stored, never sent back: only the standard headers and x-amz-meta-* are).
const (
	mdLockMode      = "x-amz-object-lock-mode"
	mdLockUntil     = "x-amz-object-lock-retain-until-date"
	mdLockLegalHold = "x-amz-object-lock-legal-hold"
)

// requestLock reads the lock headers of PutObject, CopyObject and CreateMultipartUpload;
// without a mode, the bucket's default retention applies (from now). Lock headers on a
// bucket without object lock are InvalidRequest.
func (c *call) requestLock() (objstore.ObjectLock, error) {
	mode, until, hold := c.header("x-amz-object-lock-mode"), c.header("x-amz-object-lock-retain-until-date"), c.header("x-amz-object-lock-legal-hold")
	cfg, enabled, err := c.lockConfig()
	if err != nil {
		return objstore.ObjectLock{}, err
	}
	var l objstore.ObjectLock
	if mode == nil && until == nil && hold == nil {
		if enabled && cfg.Mode != "" {
			l.Mode = objstore.RetentionMode(cfg.Mode)
			l.RetainUntil = time.Now().UTC().AddDate(cfg.Years, 0, cfg.Days)
		}
		return l, nil
	}
	if !enabled {
		return l, errNoLockConfig
	}
	if (mode == nil) != (until == nil) {
		return l, s3err.InvalidArgument.With("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	}
	if mode != nil {
		switch string(trimSpace(mode)) {
		case string(objstore.RetentionGovernance), string(objstore.RetentionCompliance):
			l.Mode = objstore.RetentionMode(trimSpace(mode))
		default:
			return l, s3err.InvalidArgument.With("Unknown wormMode directive.")
		}
		t, err := time.Parse(time.RFC3339Nano, string(trimSpace(until)))
		if err != nil {
			return l, s3err.InvalidArgument.With("The retain until date must be an ISO 8601 date and time.")
		}
		if !t.After(time.Now()) {
			return l, s3err.InvalidArgument.With("The retain until date must be in the future!")
		}
		l.RetainUntil = t.UTC()
	} else if cfg.Mode != "" {
		l.Mode = objstore.RetentionMode(cfg.Mode)
		l.RetainUntil = time.Now().UTC().AddDate(cfg.Years, 0, cfg.Days)
	}
	if hold != nil {
		switch string(trimSpace(hold)) {
		case "ON":
			l.LegalHold = true
		case "OFF":
		default:
			return l, s3err.InvalidArgument.With("Legal Hold must be either of 'ON' or 'OFF'")
		}
	}
	return l, nil
}

// lockMetadata adds a lock to an upload's metadata; uploadLock reads it back.
func lockMetadata(md map[string]string, l objstore.ObjectLock) {
	if l.Mode != "" {
		md[mdLockMode] = string(l.Mode)
		md[mdLockUntil] = l.RetainUntil.Format(time.RFC3339Nano)
	}
	if l.LegalHold {
		md[mdLockLegalHold] = "ON"
	}
}

func uploadLock(md map[string]string) objstore.ObjectLock {
	var l objstore.ObjectLock
	if t, err := time.Parse(time.RFC3339Nano, md[mdLockUntil]); err == nil && md[mdLockMode] != "" {
		l.Mode, l.RetainUntil = objstore.RetentionMode(md[mdLockMode]), t
	}
	l.LegalHold = md[mdLockLegalHold] == "ON"
	return l
}

// setLockHeaders sends a version's lock on GET and HEAD.
func (c *call) setLockHeaders(l objstore.ObjectLock) {
	hdr := c.w.Header()
	if l.Mode != "" {
		hdr.Set("x-amz-object-lock-mode", string(l.Mode))
		hdr.Set("x-amz-object-lock-retain-until-date", l.RetainUntil.UTC().Format(time.RFC3339))
	}
	if l.LegalHold {
		hdr.Set("x-amz-object-lock-legal-hold", "ON")
	}
}

// lockedVersion returns the information of the version a retention or legal-hold request
// names, after checking that the bucket has object lock.
func (c *call) lockedVersion() (objstore.ObjectInfo, error) {
	if _, err := c.h.layer.GetBucketInfo(c.context(), c.bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if _, ok, err := c.lockConfig(); err != nil || !ok {
		return objstore.ObjectInfo{}, errors.Join(err, errNoLockConfig)
	}
	return c.statNamed()
}

// getObjectRetention serves GetObjectRetention.
func (c *call) getObjectRetention() error {
	info, err := c.lockedVersion()
	if err != nil {
		return err
	}
	l := info.Version.Lock
	if l.Mode == "" {
		return errNoRetention
	}
	x := c.startXML("Retention")
	x.String("Mode", string(l.Mode))
	x.String("RetainUntilDate", l.RetainUntil.UTC().Format(time.RFC3339Nano))
	x.Close("Retention")
	c.sendXML(http.StatusOK)
	return nil
}

// putObjectRetention serves PutObjectRetention: COMPLIANCE is never shortened nor removed,
// GOVERNANCE only with x-amz-bypass-governance-retention (AccessDenied otherwise).
func (c *call) putObjectRetention() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	r, err := s3xml.ParseRetention(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	if r.Mode != "" && !r.Until.After(time.Now()) {
		return s3err.InvalidArgument.With("The retain until date must be in the future!")
	}
	if _, err := c.lockedVersion(); err != nil {
		return err
	}
	l := objstore.ObjectLock{Mode: objstore.RetentionMode(r.Mode), RetainUntil: r.Until}
	info, err := c.h.versions.SetObjectLock(c.context(), c.bucket, c.key, c.versionParam(), objstore.LockUpdate{Retention: &l}, c.bypassGovernance(c.key))
	if err != nil {
		return c.versionErr(err)
	}
	c.setVersionHeader(info.Version.VersionID)
	return c.empty()
}

// getObjectLegalHold serves GetObjectLegalHold.
func (c *call) getObjectLegalHold() error {
	info, err := c.lockedVersion()
	if err != nil {
		return err
	}
	status := "OFF"
	if info.Version.Lock.LegalHold {
		status = "ON"
	}
	x := c.startXML("LegalHold")
	x.String("Status", status)
	x.Close("LegalHold")
	c.sendXML(http.StatusOK)
	return nil
}

// putObjectLegalHold serves PutObjectLegalHold.
func (c *call) putObjectLegalHold() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	on, err := s3xml.ParseLegalHold(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	if _, err := c.lockedVersion(); err != nil {
		return err
	}
	info, err := c.h.versions.SetObjectLock(c.context(), c.bucket, c.key, c.versionParam(), objstore.LockUpdate{LegalHold: &on}, false)
	if err != nil {
		return c.versionErr(err)
	}
	c.setVersionHeader(info.Version.VersionID)
	return c.empty()
}
