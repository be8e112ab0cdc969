package objstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Versioning is a bucket's versioning state, as its "versioning" configuration document
// (BucketConfigVersioning) holds it: "" (never versioned), "Enabled" or "Suspended". The
// object layer reads that document to decide what a write does to a key's versions.
type Versioning uint8

// The versioning states.
const (
	// Unversioned buckets keep one version per key, the null one: a write replaces it.
	Unversioned Versioning = iota
	// VersioningEnabled: every write adds a version with a new id; a delete without a
	// version id adds a delete marker.
	VersioningEnabled
	// VersioningSuspended: a write replaces the null version (the other versions stay); a
	// delete without a version id makes the null version a delete marker.
	VersioningSuspended
)

// ParseVersioning reads the versioning document.
func ParseVersioning(doc string) Versioning {
	switch doc {
	case "Enabled":
		return VersioningEnabled
	case "Suspended":
		return VersioningSuspended
	}
	return Unversioned
}

// NullVersion is the version id of the null version, the one an unversioned or suspended
// bucket writes.
const NullVersion = "null"

// Errors of versioned operations.
var (
	// ErrNoSuchVersion: the version id names no version of the key (S3: 404 NoSuchVersion).
	ErrNoSuchVersion = errors.New("no such version")
	// ErrObjectLocked: the version is under retention or legal hold (S3: 403 AccessDenied;
	// the mount: EPERM).
	ErrObjectLocked = errors.New("object version is locked")
	// ErrTooManyVersions: the key holds the most versions it may (meta.MaxVersions).
	ErrTooManyVersions = errors.New("too many versions of one key")
	// ErrMethodNotAllowed: the version is a delete marker, which has no data nor metadata
	// to read or change (S3: 405 MethodNotAllowed).
	ErrMethodNotAllowed = errors.New("the version is a delete marker")
)

// DeleteMarkerError is the error of a read that found a delete marker: the latest version
// (it unwraps to ErrObjectNotFound) or the one a version id named (ErrMethodNotAllowed).
// The S3 face answers x-amz-delete-marker: true and the marker's version id.
type DeleteMarkerError struct {
	Bucket, Key, VersionID string
	// ByID tells that the read named the marker's version id.
	ByID bool
}

func (e *DeleteMarkerError) Error() string {
	return fmt.Sprintf("%s/%s: version %s is a delete marker", e.Bucket, e.Key, e.VersionID)
}

// Unwrap returns ErrMethodNotAllowed for a read by id, ErrObjectNotFound otherwise.
func (e *DeleteMarkerError) Unwrap() error {
	if e.ByID {
		return ErrMethodNotAllowed
	}
	return ErrObjectNotFound
}

// RetentionMode is an object-lock retention mode.
type RetentionMode string

// The retention modes.
const (
	RetentionGovernance RetentionMode = "GOVERNANCE"
	RetentionCompliance RetentionMode = "COMPLIANCE"
)

// ObjectLock is a version's object-lock state.
type ObjectLock struct {
	// Mode and RetainUntil are the retention; both empty for none.
	Mode        RetentionMode
	RetainUntil time.Time
	LegalHold   bool
}

// Locked reports whether the lock forbids deleting or overwriting the version at now, for
// a caller that may (bypass) or may not bypass governance retention.
func (l ObjectLock) Locked(now time.Time, bypass bool) bool {
	if l.LegalHold {
		return true
	}
	if l.Mode == "" || !now.Before(l.RetainUntil) {
		return false
	}
	return l.Mode == RetentionCompliance || !bypass
}

// LockUpdate is a change of a version's object lock: what is nil stays as it is.
type LockUpdate struct {
	// Retention, if set, replaces the retention by its Mode and RetainUntil ("" mode: none).
	Retention *ObjectLock
	// LegalHold, if set, puts the legal hold on or off.
	LegalHold *bool
}

// VersionInfo is what ObjectInfo adds for a versioned object.
type VersionInfo struct {
	// VersionID is the version's id: NullVersion for the null version.
	VersionID string
	// IsLatest tells that the version is the key's current one (listings of versions).
	IsLatest bool
	// DeleteMarker tells that the version is a delete marker.
	DeleteMarker bool
	Lock         ObjectLock
}

// DeleteOptions are the options of DeleteVersion.
type DeleteOptions struct {
	// VersionID, if set, removes that version (NullVersion: the null one); otherwise the
	// delete follows the bucket's versioning: a delete marker in a versioned bucket, the
	// removal of the object in an unversioned one.
	VersionID string
	// BypassGovernance lets the delete remove a version under GOVERNANCE retention (the
	// caller checked that it may: S3's s3:BypassGovernanceRetention).
	BypassGovernance bool
}

// DeleteResult tells what DeleteVersion did.
type DeleteResult struct {
	// VersionID is the id of the version removed, or of the delete marker made ("" when
	// an unversioned object was removed).
	VersionID string
	// DeleteMarker tells that a delete marker was made, or that the version removed was one.
	DeleteMarker bool
}

// ListVersionsOptions select what ListObjectVersions returns.
type ListVersionsOptions struct {
	Prefix, Delimiter string
	// KeyMarker and VersionIDMarker start the listing after that version of that key
	// (after every version of KeyMarker when VersionIDMarker is empty).
	KeyMarker, VersionIDMarker string
	MaxKeys                    int
}

// ListVersionsResult is a page of ListObjectVersions: every version of every key, keys in
// order, each key's versions newest first; delete markers have DeleteMarker set.
type ListVersionsResult struct {
	Versions            []ObjectInfo
	Prefixes            []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// VersionMetadataUpdater is an optional capability of a VersionedLayer, discovered by type
// assertion: UpdateVersionMetadata changes the metadata of one version ("" for the
// latest) as ObjectLayer.UpdateObjectMetadata does the latest's (data, ETag and
// modification time unchanged): what S3's tagging and ACLs of a version by id need.
// ErrNoSuchVersion, *DeleteMarkerError (a delete marker has no metadata to change).
type VersionMetadataUpdater interface {
	UpdateVersionMetadata(ctx context.Context, bucket, key, versionID string, patch MetadataPatch) (ObjectInfo, error)
}

// VersionedLayer is an optional capability of an ObjectLayer, discovered by type
// assertion: the versions of objects. ObjectLayer's own methods address the latest
// version; in a versioned bucket its DeleteObject makes a delete marker (ErrObjectNotFound
// when there is no live object to delete), and its writes add versions or replace the
// null version as the bucket's versioning says.
type VersionedLayer interface {
	// StatVersion returns a version's information ("" for the latest):
	// ErrNoSuchVersion, *DeleteMarkerError.
	StatVersion(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error)
	// OpenVersion opens a version for reading ("" for the latest), as OpenObject does.
	OpenVersion(ctx context.Context, bucket, key, versionID string) (ObjectHandle, error)
	// DeleteVersion deletes as S3's DeleteObject does: see DeleteOptions. ErrObjectLocked
	// when the version is locked, ErrNoSuchVersion.
	DeleteVersion(ctx context.Context, bucket, key string, opts DeleteOptions) (DeleteResult, error)
	// ListObjectVersions lists every version of the bucket's keys.
	ListObjectVersions(ctx context.Context, bucket string, opts ListVersionsOptions) (ListVersionsResult, error)
	// SetObjectLock changes a version's retention or legal hold ("" for the latest): a
	// COMPLIANCE retention is never shortened nor removed, a GOVERNANCE one only with
	// bypass. ErrObjectLocked when refused, ErrMethodNotAllowed for a delete marker.
	SetObjectLock(ctx context.Context, bucket, key, versionID string, update LockUpdate, bypass bool) (ObjectInfo, error)
	// BucketVersioning returns the bucket's versioning state.
	BucketVersioning(ctx context.Context, bucket string) (Versioning, error)
}
