package s3frontend

import (
	"io"
	"maps"
	"net/http"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// maxPutSize is S3's limit on a single PUT (and on one part): 5 GiB.
const maxPutSize = 5 << 30

// putObject serves PutObject: the body streams from the socket through the SigV4 body
// verifier into the object layer, which aborts the write if the verifier fails at any
// point, its last byte included.
func (c *call) putObject() error {
	if err := c.checkUnsupported(); err != nil {
		return err
	}
	size, err := c.payloadSize()
	if err != nil {
		return err
	}
	md, err := c.requestMetadata()
	if err != nil {
		return err
	}
	if err := c.addRequestTags(md); err != nil {
		return err
	}
	pre, err := c.writePreconditions()
	if err != nil {
		return err
	}
	lock, err := c.requestLock()
	if err != nil {
		return err
	}
	body, err := c.h.verifier.Body(&c.sig, &c.auth, c.r.Body, sigv4.BodyOptions{Compute: checksum.CRC64NVME})
	if err != nil {
		return err
	}
	capture := &checksumCapture{body: body, md: md}
	opts := objstore.PutOptions{Metadata: md, Preconditions: pre, Lock: lock}
	opts.ContentMD5, _ = body.ContentMD5() // verified by the body before its io.EOF
	info, err := c.h.layer.PutObject(c.context(), c.bucket, c.key, capture, size, opts)
	if err != nil {
		return err
	}
	if err := c.ensureChecksumStored(info, capture); err != nil {
		return err
	}
	c.setETag(info.ETag)
	c.setVersionHeader(info.Version.VersionID)
	if capture.sum.Algorithm != checksum.None {
		hdr := c.w.Header()
		hdr.Set(capture.sum.Algorithm.HeaderName(), capture.sum.Base64())
		hdr.Set("x-amz-checksum-type", checksum.FullObject.String())
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// payloadSize returns the size of the body the client announced: the decoded length of an
// aws-chunked body, else Content-Length, else -1 for a chunked body of unknown size. A body
// without any length is MissingContentLength, one over 5 GiB EntityTooLarge.
func (c *call) payloadSize() (int64, error) {
	size := c.r.ContentLength
	if c.auth.Payload.Chunked() {
		size = -1
		if v := c.header("x-amz-decoded-content-length"); v != nil {
			n, ok := parseDigits(v)
			if !ok {
				return 0, s3err.InvalidArgument.With("x-amz-decoded-content-length must be a non-negative integer.")
			}
			size = n
		}
	} else if !c.r.Chunked && c.header("content-length") == nil {
		return 0, s3err.MissingContentLength
	}
	if size > maxPutSize {
		return 0, s3err.EntityTooLarge
	}
	return size, nil
}

// writePreconditions reads the conditional-write headers of PutObject, CopyObject and
// CompleteMultipartUpload: If-None-Match (only "*" exists in S3) and If-Match.
func (c *call) writePreconditions() (objstore.Preconditions, error) {
	var p objstore.Preconditions
	if v := c.header("if-none-match"); v != nil {
		if string(trimSpace(v)) != "*" {
			return p, s3err.NotImplemented.With("If-None-Match on a write only accepts *.")
		}
		p.IfNoneMatch = true
	}
	if v := c.header("if-match"); v != nil {
		v = trimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if len(v) == 0 {
			return p, s3err.InvalidArgument.With("If-Match needs an entity tag.")
		}
		p.IfMatch = string(v)
	}
	return p, nil
}

// setETag sets the quoted ETag header.
func (c *call) setETag(etag string) {
	c.scratch = appendQuoted(c.scratch[:0], etag)
	c.setHeader("ETag", c.scratch)
}

// checksumCapture passes the verified body to the object layer and, when the body ends
// and every check has passed, adds its checksum to the metadata being stored. The object
// layer marshals PutOptions.Metadata when it commits, after reading the body to its end
// (it must read to io.EOF to see the verifier's verdict), so the entry lands in the same
// atomic commit; ensureChecksumStored checks that it did.
type checksumCapture struct {
	body *sigv4.Body
	md   map[string]string
	sum  checksum.Value
}

// Read implements io.Reader.
func (cc *checksumCapture) Read(p []byte) (int, error) {
	n, err := cc.body.Read(p)
	if err == io.EOF && cc.sum.Algorithm == checksum.None {
		if v, ok := cc.body.Checksum(); ok {
			cc.sum = v
			if cc.md != nil {
				cc.md[v.Algorithm.HeaderName()] = v.Base64()
			}
		}
	}
	return n, err
}

// ensureChecksumStored stores the body's checksum with a metadata update when the commit
// did not carry it (an object layer that copies the metadata before reading the body).
func (c *call) ensureChecksumStored(info objstore.ObjectInfo, cc *checksumCapture) error {
	if cc.sum.Algorithm == checksum.None {
		return nil
	}
	name := cc.sum.Algorithm.HeaderName()
	if info.Metadata[name] == cc.sum.Base64() {
		return nil
	}
	_, err := c.h.layer.UpdateObjectMetadata(c.context(), c.bucket, c.key, objstore.MetadataPatch{
		Set: map[string]string{name: cc.sum.Base64()},
	})
	return err
}

// copyObject serves CopyObject: a server-side copy, with the copy-source conditions
// checked against the source under its lock, and the COPY or REPLACE metadata directive.
func (c *call) copyObject() error {
	if err := c.checkUnsupported(); err != nil {
		return err
	}
	if c.r.ContentLength > 0 || c.r.Chunked {
		return s3err.UnexpectedContent
	}
	src, ok := router.ParseCopySource(c.header("x-amz-copy-source"))
	if !ok {
		return s3err.InvalidCopySource
	}
	if err := c.mayReadSource(src.Bucket, src.Key); err != nil {
		return err
	}
	replace := false
	switch v := c.header("x-amz-metadata-directive"); {
	case v == nil || httpwire.EqualFold(v, "copy"):
	case httpwire.EqualFold(v, "replace"):
		replace = true
	default:
		return s3err.InvalidMetadataDirective
	}
	replaceTags := false
	switch v := c.header("x-amz-tagging-directive"); {
	case v == nil || httpwire.EqualFold(v, "copy"):
	case httpwire.EqualFold(v, "replace"):
		replaceTags = true
	default:
		return s3err.InvalidArgument.With("Unknown tagging directive.")
	}
	if src.Bucket == c.bucket && src.Key == c.key && src.VersionID == "" && !replace && !replaceTags {
		return s3err.InvalidCopyRequest
	}
	md := map[string]string{}
	if replace {
		var err error
		if md, err = c.requestMetadata(); err != nil {
			return err
		}
	}
	tags, _, err := c.requestTags()
	if err != nil {
		return err
	}
	canned, err := c.requestACL()
	if err != nil {
		return err
	}
	pre, err := c.writePreconditions()
	if err != nil {
		return err
	}
	lock, err := c.requestLock()
	if err != nil {
		return err
	}
	cd := c.copySourceConditions()
	opts := objstore.CopyOptions{
		Lock: lock,
		// The tags and the ACL are metadata here: the map is always replaced, filled in
		// from the source under its lock with what the request keeps. A copy's ACL is the
		// request's (private by default), never the source's, as on S3.
		ReplaceMetadata: true,
		Metadata:        md,
		Preconditions:   pre,
		SrcVersionID:    src.VersionID,
		SrcCheck: func(info objstore.ObjectInfo) error {
			if e := cd.check(info.ETag, info.ModTime, true); e != nil {
				return e
			}
			if !replace {
				maps.Copy(md, info.Metadata)
			}
			// The data does not change, so neither does its checksum: it survives a
			// metadata replacement, as in S3.
			for _, k := range checksumKeys(info.Metadata) {
				md[k] = info.Metadata[k]
			}
			delete(md, mdTagging)
			switch src := info.Metadata[mdTagging]; {
			case replaceTags && tags != "":
				md[mdTagging] = tags
			case !replaceTags && src != "":
				md[mdTagging] = src
			}
			setRequestACL(md, canned)
			return nil
		},
	}
	if src.VersionID != "" && c.h.versions == nil && src.VersionID != router.NullVersion {
		return s3err.NoSuchVersion
	}
	info, err := c.h.layer.CopyObject(c.context(), objstore.ObjectRef{Bucket: src.Bucket, Key: src.Key},
		objstore.ObjectRef{Bucket: c.bucket, Key: c.key}, opts)
	if err != nil {
		return c.copySourceErr(err)
	}
	if src.VersionID != "" {
		c.w.Header().Set("x-amz-copy-source-version-id", src.VersionID)
	}
	c.setVersionHeader(info.Version.VersionID)
	x := c.startXML("CopyObjectResult")
	x.Time("LastModified", info.ModTime)
	x.ETag("ETag", info.ETag)
	if alg, val, typ := storedChecksum(info.Metadata); alg != "" {
		x.String(checksumElement(alg), val)
		x.String("ChecksumType", typ)
	}
	x.Close("CopyObjectResult")
	c.sendXML(http.StatusOK)
	return nil
}

// copySourceConditions reads the x-amz-copy-source-if-* headers.
func (c *call) copySourceConditions() conditions {
	return conditions{
		ifMatch:         c.header("x-amz-copy-source-if-match"),
		ifNoneMatch:     c.header("x-amz-copy-source-if-none-match"),
		ifModifiedSince: c.header("x-amz-copy-source-if-modified-since"),
		ifUnmodifiedSin: c.header("x-amz-copy-source-if-unmodified-since"),
	}
}

// checksumKeys returns the checksum entries of an object's metadata.
func checksumKeys(md map[string]string) []string {
	var keys []string
	for k := range maps.Keys(md) {
		if _, ok := checksum.AlgorithmForHeader([]byte(k)); ok || k == mdChecksumType {
			keys = append(keys, k)
		}
	}
	return keys
}

// checksumElement returns the XML element name of a checksum header
// ("x-amz-checksum-crc32c" -> "ChecksumCRC32C").
func checksumElement(header string) string {
	a, ok := checksum.AlgorithmForHeader([]byte(header))
	if !ok {
		return ""
	}
	return "Checksum" + a.String()
}
