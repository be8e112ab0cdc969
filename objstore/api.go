package objstore

import (
	"context"
	"io"
	"time"
)

// ObjectLayer is what both faces see of the store. Every method is safe for concurrent use.
// Writes are durable on a write quorum of drives before they return, reads see every write
// that returned before they started (strong read-after-write), and the change feed has
// delivered a write's event before the write returns.
type ObjectLayer interface {
	// MakeBucket creates a bucket: ErrBucketExists, ErrInvalidBucketName.
	MakeBucket(ctx context.Context, bucket string, opts MakeBucketOptions) error
	// GetBucketInfo returns a bucket's information: ErrBucketNotFound.
	GetBucketInfo(ctx context.Context, bucket string) (BucketInfo, error)
	// ListBuckets returns every bucket, sorted by name.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	// DeleteBucket removes an empty bucket: ErrBucketNotEmpty, ErrBucketNotFound.
	DeleteBucket(ctx context.Context, bucket string) error

	// PutObject stores an object read from r: exactly size bytes if size >= 0 (fewer is
	// ErrIncompleteBody), else until io.EOF. An error from r, even together with its last
	// bytes, aborts the put and leaves any previous object untouched.
	PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// OpenObject opens the current version of an object for reading at any offset. The
	// handle reads that version to the end even if the object is overwritten or deleted
	// meanwhile; Close it.
	OpenObject(ctx context.Context, bucket, key string) (ObjectHandle, error)
	// StatObject returns an object's information: ErrObjectNotFound.
	StatObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// DeleteObject removes an object: ErrObjectNotFound if there is none (the S3 face
	// answers 204 all the same; the FUSE face needs ENOENT).
	DeleteObject(ctx context.Context, bucket, key string) error
	// DeleteObjects removes several objects; errs[i] is the outcome for keys[i].
	DeleteObjects(ctx context.Context, bucket string, keys []string) (errs []error)
	// CopyObject copies an object server-side, keeping or replacing its metadata.
	CopyObject(ctx context.Context, src, dst ObjectRef, opts CopyOptions) (ObjectInfo, error)
	// ListObjects lists a bucket's objects in key order (see ListOptions).
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	// NewMultipartUpload starts a multipart upload and returns its id.
	NewMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (uploadID string, err error)
	// PutObjectPart stores one part (1 to 10000) of an upload, replacing any earlier part of
	// that number.
	PutObjectPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, size int64, opts PartOptions) (PartInfo, error)
	// ListObjectParts lists an upload's parts with numbers above marker.
	ListObjectParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (ListPartsResult, error)
	// CompleteMultipartUpload assembles the listed parts, in ascending part number order,
	// into the object: ErrInvalidPart, ErrInvalidPartOrder, ErrEntityTooSmall.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, opts CompleteOptions) (ObjectInfo, error)
	// AbortMultipartUpload discards an upload and its parts: ErrNoSuchUpload.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListMultipartUploads lists uploads in progress, by key then initiation order.
	ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error)

	// RenameObject moves an object to another key of the same bucket. Within one erasure
	// set it is atomic and touches no data; across sets it copies then deletes, under both
	// keys' locks. ErrObjectExists with NoReplace when dst exists.
	RenameObject(ctx context.Context, bucket, srcKey, dstKey string, opts RenameOptions) (ObjectInfo, error)
	// UpdateObjectMetadata changes an object's stored metadata without rewriting its data.
	UpdateObjectMetadata(ctx context.Context, bucket, key string, patch MetadataPatch) (ObjectInfo, error)

	// Subscribe calls fn for every change to bucket ("" for every bucket), synchronously,
	// after the change is durable and before the call that made it returns. fn must not
	// block for long nor call back into the layer for the same key. cancel stops the calls.
	Subscribe(bucket string, fn func(Event)) (cancel func())

	// StorageInfo reports capacity and the state of every drive.
	StorageInfo(ctx context.Context) StorageInfo
	// Ready reports whether every erasure set has its write quorum of drives online.
	Ready(ctx context.Context) bool
}

// ObjectHandle reads one version of an object at any offset.
type ObjectHandle interface {
	io.ReaderAt
	io.Closer
	// Info describes the version the handle reads.
	Info() ObjectInfo
	// WriteRange writes length bytes starting at offset to w, decoding whole stripes
	// straight into w: the fast path for sequential reads.
	WriteRange(ctx context.Context, w io.Writer, offset, length int64) (int64, error)
}

// BufferReader is an optional capability of an ObjectHandle: a read whose buffer the
// caller gives up if the read fails, so that the drives' bytes can be read straight into
// it and verified there, with no copy through the core's own buffers (the mount's
// readahead windows use it).
type BufferReader interface {
	// ReadInto reads len(p) bytes at off into p; off+len(p) must not pass the object's
	// end (ErrInvalidRange). After an error wrapping ErrBufferAbandoned a drive read that
	// timed out may still write into p: the caller must not use p's memory again. After
	// any other error p holds undefined bytes.
	ReadInto(ctx context.Context, p []byte, off int64) (int64, error)
}

// ObjectRef names an object.
type ObjectRef struct{ Bucket, Key string }

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// MakeBucketOptions are the options of MakeBucket.
type MakeBucketOptions struct {
	// Location is the region the bucket is created in (S3's LocationConstraint).
	Location string
}

// ObjectInfo describes an object.
type ObjectInfo struct {
	Bucket  string
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is the hex MD5 of the content for a single put, or the S3 multipart ETag
	// ("<hex md5 of the parts' md5s>-<parts>"), without quotes.
	ETag string
	// Metadata holds the stored headers under lower-case names: content-type, the standard
	// headers, x-amz-meta-*, x-amz-checksum-*.
	Metadata map[string]string
	// Parts are the object's parts (one for a single put).
	Parts []PartInfo
	// Version describes the version (its id is NullVersion in an unversioned bucket).
	Version VersionInfo
}

// ContentType returns the stored Content-Type, or "" if none.
func (o ObjectInfo) ContentType() string { return o.Metadata["content-type"] }

// PutOptions are the options of PutObject and NewMultipartUpload.
type PutOptions struct {
	// Metadata is stored with the object, under lower-case header names. PutObject reads
	// the map only once the body has been read to its end, so a caller may add entries
	// known only then (a trailer checksum) from within the body reader.
	Metadata map[string]string
	// Preconditions are checked atomically with the write, under the key's lock.
	Preconditions Preconditions
	// ModTime, if set, is the modification time to record instead of now (heal, replication).
	ModTime time.Time
	// Lock is the new version's object-lock state (S3's lock headers, or the bucket's
	// default retention, which the S3 face applies).
	Lock ObjectLock
	// Versioning is decided by the layer from the bucket's configuration; a caller leaves
	// it zero.
	Versioning Versioning
	// ContentMD5, when set (16 bytes), is the body's MD5, which the caller has already:
	// the layer takes it for the ETag instead of hashing the body a second time. It must be
	// the MD5 of exactly the bytes the reader delivers before io.EOF. A caller that learns
	// whether it is only at the end (S3's Content-MD5, verified by the body's reader) must
	// fail that last read instead of returning io.EOF when it is not: the put then fails
	// and stores nothing.
	ContentMD5 []byte
}

// Preconditions make a write conditional on the object's current state, like S3's
// If-None-Match and If-Match on PUT: ErrPreconditionFailed when they do not hold.
type Preconditions struct {
	// IfNoneMatch ("*") requires that no object exists at the key.
	IfNoneMatch bool
	// IfMatch, if set, requires the current object's ETag to equal it.
	IfMatch string
}

// PartOptions are the options of PutObjectPart.
type PartOptions struct {
	// Checksum is the part's verified S3 checksum as "ALGORITHM:base64", stored with it.
	Checksum string
	// ContentMD5 is the part's MD5 when the caller has it, as PutOptions.ContentMD5.
	ContentMD5 []byte
	// FinalChecksum, if set, is called once the body has been read to its end and before
	// the part is committed; a non-empty result replaces Checksum. It serves checksums that
	// are known only after the body (S3 trailers, checksums the server computes).
	FinalChecksum func() string
}

// CompleteOptions are the options of CompleteMultipartUpload.
type CompleteOptions struct {
	Preconditions Preconditions
	// Metadata, if set, is added to the metadata given when the upload started (for the
	// final checksum the S3 face computes).
	Metadata map[string]string
	// Lock and Versioning are as PutOptions'.
	Lock       ObjectLock
	Versioning Versioning
}

// CopyOptions are the options of CopyObject.
type CopyOptions struct {
	// ReplaceMetadata stores Metadata instead of the source's (S3's REPLACE directive).
	ReplaceMetadata bool
	Metadata        map[string]string
	// SrcCheck, if set, runs against the source's information under its read lock, before
	// anything is written: the S3 face checks the copy-source conditions there, and its
	// error aborts the copy.
	SrcCheck func(src ObjectInfo) error
	// Preconditions apply to the destination.
	Preconditions Preconditions
	// Range, if Length >= 0, copies only that byte range of the source (UploadPartCopy).
	Range *Range
	// SrcVersionID, if set, copies that version of the source.
	SrcVersionID string
	// Lock is the new version's object-lock state.
	Lock ObjectLock
}

// Range is a byte range of an object.
type Range struct {
	Offset, Length int64
}

// RenameOptions are the options of RenameObject.
type RenameOptions struct {
	// NoReplace fails with ErrObjectExists rather than replace an object at the destination
	// (RENAME_NOREPLACE).
	NoReplace bool
}

// MetadataPatch changes an object's stored metadata: Set adds or replaces entries, Delete
// removes them (Delete applies first).
type MetadataPatch struct {
	Set    map[string]string
	Delete []string
}

// ListOptions select what ListObjects returns.
type ListOptions struct {
	// Prefix limits the listing to keys that start with it.
	Prefix string
	// Delimiter, if set, rolls up the keys that contain it after the prefix into common
	// prefixes (up to and including its first occurrence after the prefix).
	Delimiter string
	// Marker starts the listing after this key (S3's marker, start-after and continuation).
	// A common prefix is listed only if it sorts after Marker, so that a marker equal to a
	// common prefix continues after all of its keys.
	Marker string
	// MaxKeys bounds the objects plus common prefixes returned (1000 if 0 or more than 1000
	// is up to the caller; the layer takes any positive value).
	MaxKeys int
}

// ListResult is a page of a listing.
type ListResult struct {
	Objects  []ObjectInfo
	Prefixes []string
	// IsTruncated tells that more entries follow; NextMarker is the last key or common
	// prefix returned, to pass as Marker.
	IsTruncated bool
	NextMarker  string
}

// PartInfo describes a part.
type PartInfo struct {
	Number   int
	Size     int64
	ETag     string
	ModTime  time.Time
	Checksum string
}

// CompletePart names a part in CompleteMultipartUpload: its number and the ETag that
// UploadPart returned.
type CompletePart struct {
	Number int
	ETag   string
}

// ListPartsResult is a page of ListObjectParts.
type ListPartsResult struct {
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
	Metadata             map[string]string
	Initiated            time.Time
}

// ListUploadsOptions select what ListMultipartUploads returns.
type ListUploadsOptions struct {
	Prefix, Delimiter, KeyMarker, UploadIDMarker string
	MaxUploads                                   int
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ListUploadsResult is a page of ListMultipartUploads.
type ListUploadsResult struct {
	Uploads            []UploadInfo
	Prefixes           []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// StorageInfo reports capacity and drive states.
type StorageInfo struct {
	// Total and Free are raw bytes over all drives; Usable* account for parity.
	Total, Free        uint64
	UsableTotal        uint64
	UsableFree         uint64
	Files, FreeFiles   uint64
	Drives             []DriveInfo
	OnlineDrives       int
	OfflineDrives      int
	ErasureSets        int
	DataShards, Parity int
}

// DriveInfo is the state of one drive.
type DriveInfo struct {
	Endpoint    string
	Set, Index  int
	Online      bool
	Total, Free uint64
	State       string
}
