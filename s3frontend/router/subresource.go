package router

import "github.com/flashstor/flashstor/internal/httpwire"

// subresources is the set of query parameters present, as bits. Parameters come in three
// kinds: sub-resources, which select the operation (location, uploads, uploadId,
// partNumber, delete, versioning, versions, tagging, acl, cors, lifecycle, attributes);
// arguments, which only some operations accept (prefix, max-keys, response-content-type,
// ...); and parameters every operation ignores (the presigned-URL
// authentication, the SDKs' x-id). A parameter of none of these kinds, S3 sub-resources the
// face does not implement (policy, website, select, ...) included, makes the request
// NotImplemented: an unknown sub-resource must never fall through to another operation.
type subresources uint64

const (
	subLocation subresources = 1 << iota
	subUploads
	subUploadID
	subPartNumber
	subDelete
	subVersioning
	subVersions
	subTagging
	subACL
	subCORS
	subLifecycle
	subAttributes
	subPolicy
	subPolicyStatus
	subObjectLock
	subRetention
	subLegalHold

	subListType
	subPrefix
	subDelimiter
	subMarker
	subMaxKeys
	subEncodingType
	subContinuationToken
	subStartAfter
	subFetchOwner
	subKeyMarker
	subUploadIDMarker
	subMaxUploads
	subMaxParts
	subPartNumberMarker
	subResponseHeader
	subVersionID
	subMaxBuckets
	subBucketRegion
	subVersionIDMarker
	// subIgnored marks parameters every operation accepts and ignores.
	subIgnored
	// subUnsupported marks S3 sub-resources that are known but not implemented.
	subUnsupported
)

// subResourceMask holds the bits that select an operation.
const subResourceMask = subLocation | subUploads | subUploadID | subPartNumber | subDelete |
	subVersioning | subVersions | subTagging | subACL | subCORS | subLifecycle | subAttributes |
	subPolicy | subPolicyStatus | subObjectLock | subRetention | subLegalHold

// params classifies every parameter name the face knows, exact case as S3 spells it.
var params = map[string]subresources{
	"location":           subLocation,
	"uploads":            subUploads,
	"uploadId":           subUploadID,
	"partNumber":         subPartNumber,
	"delete":             subDelete,
	"list-type":          subListType,
	"prefix":             subPrefix,
	"delimiter":          subDelimiter,
	"marker":             subMarker,
	"max-keys":           subMaxKeys,
	"encoding-type":      subEncodingType,
	"continuation-token": subContinuationToken,
	"start-after":        subStartAfter,
	"fetch-owner":        subFetchOwner,
	"key-marker":         subKeyMarker,
	"upload-id-marker":   subUploadIDMarker,
	"max-uploads":        subMaxUploads,
	"max-parts":          subMaxParts,
	"part-number-marker": subPartNumberMarker,
	"versionId":          subVersionID,
	"max-buckets":        subMaxBuckets,
	"bucket-region":      subBucketRegion,
	"versioning":         subVersioning,
	"versions":           subVersions,
	"tagging":            subTagging,
	"acl":                subACL,
	"cors":               subCORS,
	"lifecycle":          subLifecycle,
	"attributes":         subAttributes,
	"policy":             subPolicy,
	"policyStatus":       subPolicyStatus,
	"version-id-marker":  subVersionIDMarker,
	"object-lock":        subObjectLock,
	"retention":          subRetention,
	"legal-hold":         subLegalHold,

	"response-content-type":        subResponseHeader,
	"response-content-language":    subResponseHeader,
	"response-expires":             subResponseHeader,
	"response-cache-control":       subResponseHeader,
	"response-content-disposition": subResponseHeader,
	"response-content-encoding":    subResponseHeader,

	// Presigned-URL authentication (verified by sigv4) and the SDKs' operation marker.
	"X-Amz-Algorithm":      subIgnored,
	"X-Amz-Credential":     subIgnored,
	"X-Amz-Date":           subIgnored,
	"X-Amz-Expires":        subIgnored,
	"X-Amz-SignedHeaders":  subIgnored,
	"X-Amz-Signature":      subIgnored,
	"X-Amz-Security-Token": subIgnored,
	"X-Amz-Content-Sha256": subIgnored,
	"x-id":                 subIgnored,

	// S3 sub-resources that exist but are not implemented.
	"accelerate": subUnsupported, "analytics": subUnsupported,
	"encryption":          subUnsupported,
	"intelligent-tiering": subUnsupported, "inventory": subUnsupported,
	"logging": subUnsupported,
	"metrics": subUnsupported, "notification": subUnsupported,
	"ownershipControls": subUnsupported, "publicAccessBlock": subUnsupported,
	"replication": subUnsupported, "requestPayment": subUnsupported,
	"restore": subUnsupported, "select": subUnsupported,
	"select-type": subUnsupported, "session": subUnsupported,
	"torrent": subUnsupported, "website": subUnsupported, "renameObject": subUnsupported,
	"metadataTable": subUnsupported, "metadataConfiguration": subUnsupported,
}

// allowed lists, per operation, the parameters it accepts besides its own sub-resources.
// allowed[OpNone] is every parameter the face knows and implements, used to tell a
// MethodNotAllowed (known parameters, wrong method) from a NotImplemented.
var allowed = func() [NumOps]subresources {
	list := subPrefix | subDelimiter | subMaxKeys | subEncodingType
	get := subResponseHeader | subPartNumber | subVersionID
	a := [NumOps]subresources{
		OpListBuckets:             subPrefix | subMaxBuckets | subContinuationToken | subBucketRegion,
		OpCreateBucket:            0,
		OpHeadBucket:              0,
		OpDeleteBucket:            0,
		OpGetBucketLocation:       subLocation,
		OpListObjects:             list | subMarker,
		OpListObjectsV2:           list | subListType | subContinuationToken | subStartAfter | subFetchOwner,
		OpListMultipartUploads:    subUploads | subPrefix | subDelimiter | subKeyMarker | subUploadIDMarker | subMaxUploads | subEncodingType,
		OpDeleteObjects:           subDelete,
		OpPutObject:               0,
		OpCopyObject:              0,
		OpGetObject:               get,
		OpHeadObject:              get,
		OpDeleteObject:            subVersionID,
		OpCreateMultipartUpload:   subUploads,
		OpUploadPart:              subUploadID | subPartNumber,
		OpUploadPartCopy:          subUploadID | subPartNumber,
		OpCompleteMultipartUpload: subUploadID,
		OpAbortMultipartUpload:    subUploadID,
		OpListParts:               subUploadID | subMaxParts | subPartNumberMarker | subEncodingType,
		OpGetBucketVersioning:     subVersioning,
		OpPutBucketVersioning:     subVersioning,
		OpListObjectVersions:      subVersions | list | subKeyMarker | subVersionIDMarker,
		OpGetBucketTagging:        subTagging,
		OpPutBucketTagging:        subTagging,
		OpDeleteBucketTagging:     subTagging,
		OpGetObjectTagging:        subTagging | subVersionID,
		OpPutObjectTagging:        subTagging | subVersionID,
		OpDeleteObjectTagging:     subTagging | subVersionID,
		OpGetBucketACL:            subACL,
		OpPutBucketACL:            subACL,
		OpGetObjectACL:            subACL | subVersionID,
		OpPutObjectACL:            subACL | subVersionID,
		OpGetBucketCORS:           subCORS,
		OpPutBucketCORS:           subCORS,
		OpDeleteBucketCORS:        subCORS,
		OpGetBucketLifecycle:      subLifecycle,
		OpPutBucketLifecycle:      subLifecycle,
		OpDeleteBucketLifecycle:   subLifecycle,
		OpGetObjectAttributes:     subAttributes | subVersionID,
		OpGetBucketPolicy:         subPolicy,
		OpPutBucketPolicy:         subPolicy,
		OpDeleteBucketPolicy:      subPolicy,
		OpGetBucketPolicyStatus:   subPolicyStatus,
		OpGetObjectLockConfig:     subObjectLock,
		OpPutObjectLockConfig:     subObjectLock,
		OpGetObjectRetention:      subRetention | subVersionID,
		OpPutObjectRetention:      subRetention | subVersionID,
		OpGetObjectLegalHold:      subLegalHold | subVersionID,
		OpPutObjectLegalHold:      subLegalHold | subVersionID,
		OpPostObject:              0,
	}
	var all subresources
	for op := OpNone + 1; op < NumOps; op++ {
		a[op] |= subIgnored
		all |= a[op]
	}
	a[OpNone] = all
	// A preflight names the URL of the request it precedes, with whatever that carries.
	a[OpPreflightCORS] = all
	return a
}()

// classify returns the bit of a parameter name, false for a name the face does not know.
// Parameters named x-amz-* are request headers a presigned URL carries in its query
// ("hoisted"); the handler reads them as headers.
func classify(name []byte) (subresources, bool) {
	s, ok := params[string(name)] // no allocation: the compiler converts in place for lookups
	if !ok && len(name) > 6 && httpwire.EqualFold(name[:6], "x-amz-") {
		return subIgnored, true
	}
	return s, ok
}
