package s3frontend

import "github.com/flashstor/flashstor/s3frontend/router"

// opAction is the IAM action an operation needs and whether its resource is the object
// ("arn:aws:s3:::bucket/key") rather than the bucket.
type opAction struct {
	action string
	object bool
}

// opActions is the action of every operation, as AWS documents them for S3. Operations
// that need two (CopyObject, UploadPartCopy: s3:GetObject on the source too) are asked
// the second in their handler; DeleteObjects asks s3:DeleteObject of each key.
var opActions = [router.NumOps]opAction{
	router.OpListBuckets:             {"s3:ListAllMyBuckets", false},
	router.OpCreateBucket:            {"s3:CreateBucket", false},
	router.OpHeadBucket:              {"s3:ListBucket", false},
	router.OpDeleteBucket:            {"s3:DeleteBucket", false},
	router.OpGetBucketLocation:       {"s3:GetBucketLocation", false},
	router.OpListObjects:             {"s3:ListBucket", false},
	router.OpListObjectsV2:           {"s3:ListBucket", false},
	router.OpListMultipartUploads:    {"s3:ListBucketMultipartUploads", false},
	router.OpDeleteObjects:           {"", false},
	router.OpPutObject:               {"s3:PutObject", true},
	router.OpCopyObject:              {"s3:PutObject", true},
	router.OpGetObject:               {"s3:GetObject", true},
	router.OpHeadObject:              {"s3:GetObject", true},
	router.OpDeleteObject:            {"s3:DeleteObject", true},
	router.OpCreateMultipartUpload:   {"s3:PutObject", true},
	router.OpUploadPart:              {"s3:PutObject", true},
	router.OpUploadPartCopy:          {"s3:PutObject", true},
	router.OpCompleteMultipartUpload: {"s3:PutObject", true},
	router.OpAbortMultipartUpload:    {"s3:AbortMultipartUpload", true},
	router.OpListParts:               {"s3:ListMultipartUploadParts", true},
	router.OpGetBucketVersioning:     {"s3:GetBucketVersioning", false},
	router.OpPutBucketVersioning:     {"s3:PutBucketVersioning", false},
	router.OpListObjectVersions:      {"s3:ListBucketVersions", false},
	router.OpGetBucketTagging:        {"s3:GetBucketTagging", false},
	router.OpPutBucketTagging:        {"s3:PutBucketTagging", false},
	router.OpDeleteBucketTagging:     {"s3:PutBucketTagging", false},
	router.OpGetObjectTagging:        {"s3:GetObjectTagging", true},
	router.OpPutObjectTagging:        {"s3:PutObjectTagging", true},
	router.OpDeleteObjectTagging:     {"s3:DeleteObjectTagging", true},
	router.OpGetBucketACL:            {"s3:GetBucketAcl", false},
	router.OpPutBucketACL:            {"s3:PutBucketAcl", false},
	router.OpGetObjectACL:            {"s3:GetObjectAcl", true},
	router.OpPutObjectACL:            {"s3:PutObjectAcl", true},
	router.OpGetBucketCORS:           {"s3:GetBucketCORS", false},
	router.OpPutBucketCORS:           {"s3:PutBucketCORS", false},
	router.OpDeleteBucketCORS:        {"s3:PutBucketCORS", false},
	router.OpPreflightCORS:           {"", false},
	router.OpGetBucketLifecycle:      {"s3:GetLifecycleConfiguration", false},
	router.OpPutBucketLifecycle:      {"s3:PutLifecycleConfiguration", false},
	router.OpDeleteBucketLifecycle:   {"s3:PutLifecycleConfiguration", false},
	router.OpGetObjectAttributes:     {"s3:GetObjectAttributes", true},
	router.OpGetBucketPolicy:         {"s3:GetBucketPolicy", false},
	router.OpPutBucketPolicy:         {"s3:PutBucketPolicy", false},
	router.OpDeleteBucketPolicy:      {"s3:DeleteBucketPolicy", false},
	router.OpGetBucketPolicyStatus:   {"s3:GetBucketPolicyStatus", false},
	router.OpGetObjectLockConfig:     {"s3:GetBucketObjectLockConfiguration", false},
	router.OpPutObjectLockConfig:     {"s3:PutBucketObjectLockConfiguration", false},
	router.OpGetObjectRetention:      {"s3:GetObjectRetention", true},
	router.OpPutObjectRetention:      {"s3:PutObjectRetention", true},
	router.OpGetObjectLegalHold:      {"s3:GetObjectLegalHold", true},
	router.OpPutObjectLegalHold:      {"s3:PutObjectLegalHold", true},
	router.OpPostObject:              {"s3:PutObject", true},
}

// versionActions are the actions AWS asks instead when a request names a version
// (?versionId=): reading or deleting a given version is a permission of its own.
var versionActions = map[router.Op]string{
	router.OpGetObject:    "s3:GetObjectVersion",
	router.OpHeadObject:   "s3:GetObjectVersion",
	router.OpDeleteObject: "s3:DeleteObjectVersion",

	router.OpGetObjectTagging:    "s3:GetObjectVersionTagging",
	router.OpPutObjectTagging:    "s3:PutObjectVersionTagging",
	router.OpDeleteObjectTagging: "s3:DeleteObjectVersionTagging",
	router.OpGetObjectACL:        "s3:GetObjectVersionAcl",
	router.OpPutObjectACL:        "s3:PutObjectVersionAcl",
	router.OpGetObjectAttributes: "s3:GetObjectVersionAttributes",
}

// action returns the IAM action of the routed operation: its versioned form when the
// request names a version.
func (c *call) action() string {
	if a, ok := versionActions[c.route.Op]; ok && c.versionParam() != "" {
		return a
	}
	return opActions[c.route.Op].action
}
