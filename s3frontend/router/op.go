// Package router is the dispatch table of the S3 face: it decides, once per request and from
// the method, the host (virtual-host style), the path and the query's sub-resources alone,
// which S3 operation a request is and on which bucket and key. Anything it does not know is
// NotImplemented, never another operation.
//
// The package also holds the request parsers the decision needs: the query string, the
// percent-decoded path and the x-amz-copy-source header. It allocates nothing on the hot
// path: decoded names live in buffers that the caller's Route and Query keep and reuse.
package router

// Op identifies an S3 operation.
type Op uint8

// The operations the S3 face serves. OpNone is the zero value and never routed.
const (
	OpNone Op = iota
	OpListBuckets
	OpCreateBucket
	OpHeadBucket
	OpDeleteBucket
	OpGetBucketLocation
	OpListObjects
	OpListObjectsV2
	OpListMultipartUploads
	OpDeleteObjects
	OpPutObject
	OpCopyObject
	OpGetObject
	OpHeadObject
	OpDeleteObject
	OpCreateMultipartUpload
	OpUploadPart
	OpUploadPartCopy
	OpCompleteMultipartUpload
	OpAbortMultipartUpload
	OpListParts
	OpGetBucketVersioning
	OpPutBucketVersioning
	OpListObjectVersions
	OpGetBucketTagging
	OpPutBucketTagging
	OpDeleteBucketTagging
	OpGetObjectTagging
	OpPutObjectTagging
	OpDeleteObjectTagging
	OpGetBucketACL
	OpPutBucketACL
	OpGetObjectACL
	OpPutObjectACL
	OpGetBucketCORS
	OpPutBucketCORS
	OpDeleteBucketCORS
	// OpPreflightCORS is a browser's OPTIONS request before a cross-origin request, on a
	// bucket or an object.
	OpPreflightCORS
	OpGetBucketLifecycle
	OpPutBucketLifecycle
	OpDeleteBucketLifecycle
	OpGetObjectAttributes
	OpGetBucketPolicy
	OpPutBucketPolicy
	OpDeleteBucketPolicy
	OpGetBucketPolicyStatus
	OpGetObjectLockConfig
	OpPutObjectLockConfig
	OpGetObjectRetention
	OpPutObjectRetention
	OpGetObjectLegalHold
	OpPutObjectLegalHold
	// OpPostObject is a browser form upload: a multipart/form-data POST to the bucket.
	OpPostObject
	// NumOps is the number of operations, for tables indexed by Op.
	NumOps
)

var opNames = [NumOps]string{
	OpNone:                    "None",
	OpListBuckets:             "ListBuckets",
	OpCreateBucket:            "CreateBucket",
	OpHeadBucket:              "HeadBucket",
	OpDeleteBucket:            "DeleteBucket",
	OpGetBucketLocation:       "GetBucketLocation",
	OpListObjects:             "ListObjects",
	OpListObjectsV2:           "ListObjectsV2",
	OpListMultipartUploads:    "ListMultipartUploads",
	OpDeleteObjects:           "DeleteObjects",
	OpPutObject:               "PutObject",
	OpCopyObject:              "CopyObject",
	OpGetObject:               "GetObject",
	OpHeadObject:              "HeadObject",
	OpDeleteObject:            "DeleteObject",
	OpCreateMultipartUpload:   "CreateMultipartUpload",
	OpUploadPart:              "UploadPart",
	OpUploadPartCopy:          "UploadPartCopy",
	OpCompleteMultipartUpload: "CompleteMultipartUpload",
	OpAbortMultipartUpload:    "AbortMultipartUpload",
	OpListParts:               "ListParts",
	OpGetBucketVersioning:     "GetBucketVersioning",
	OpPutBucketVersioning:     "PutBucketVersioning",
	OpListObjectVersions:      "ListObjectVersions",
	OpGetBucketTagging:        "GetBucketTagging",
	OpPutBucketTagging:        "PutBucketTagging",
	OpDeleteBucketTagging:     "DeleteBucketTagging",
	OpGetObjectTagging:        "GetObjectTagging",
	OpPutObjectTagging:        "PutObjectTagging",
	OpDeleteObjectTagging:     "DeleteObjectTagging",
	OpGetBucketACL:            "GetBucketAcl",
	OpPutBucketACL:            "PutBucketAcl",
	OpGetObjectACL:            "GetObjectAcl",
	OpPutObjectACL:            "PutObjectAcl",
	OpGetBucketCORS:           "GetBucketCors",
	OpPutBucketCORS:           "PutBucketCors",
	OpDeleteBucketCORS:        "DeleteBucketCors",
	OpPreflightCORS:           "PreflightCors",
	OpGetBucketLifecycle:      "GetBucketLifecycleConfiguration",
	OpPutBucketLifecycle:      "PutBucketLifecycleConfiguration",
	OpDeleteBucketLifecycle:   "DeleteBucketLifecycle",
	OpGetObjectAttributes:     "GetObjectAttributes",
	OpGetBucketPolicy:         "GetBucketPolicy",
	OpPutBucketPolicy:         "PutBucketPolicy",
	OpDeleteBucketPolicy:      "DeleteBucketPolicy",
	OpGetBucketPolicyStatus:   "GetBucketPolicyStatus",
	OpGetObjectLockConfig:     "GetObjectLockConfiguration",
	OpPutObjectLockConfig:     "PutObjectLockConfiguration",
	OpGetObjectRetention:      "GetObjectRetention",
	OpPutObjectRetention:      "PutObjectRetention",
	OpGetObjectLegalHold:      "GetObjectLegalHold",
	OpPutObjectLegalHold:      "PutObjectLegalHold",
	OpPostObject:              "PostObject",
}

// String returns the S3 name of the operation ("GetObject").
func (o Op) String() string {
	if o >= NumOps {
		return "Op(?)"
	}
	return opNames[o]
}

// level is the resource a request addresses: the service, a bucket or an object.
type level uint8

const (
	levelService level = iota
	levelBucket
	levelObject
	levelEither // a bucket, or an object in it
)

// level reports the resource kind the operation addresses.
func (o Op) level() level {
	switch o {
	case OpListBuckets:
		return levelService
	case OpCreateBucket, OpHeadBucket, OpDeleteBucket, OpGetBucketLocation, OpListObjects,
		OpListObjectsV2, OpListMultipartUploads, OpDeleteObjects, OpGetBucketVersioning,
		OpPutBucketVersioning, OpListObjectVersions, OpGetBucketTagging, OpPutBucketTagging,
		OpDeleteBucketTagging, OpGetBucketACL, OpPutBucketACL, OpGetBucketCORS, OpPutBucketCORS,
		OpDeleteBucketCORS, OpGetBucketLifecycle, OpPutBucketLifecycle, OpDeleteBucketLifecycle,
		OpGetBucketPolicy, OpPutBucketPolicy, OpDeleteBucketPolicy, OpGetBucketPolicyStatus,
		OpGetObjectLockConfig, OpPutObjectLockConfig, OpPostObject:
		return levelBucket
	case OpPreflightCORS:
		return levelEither
	}
	return levelObject
}
