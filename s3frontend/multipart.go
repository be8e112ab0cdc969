package s3frontend

import (
	"net/http"
	"strconv"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// createMultipartUpload serves CreateMultipartUpload. The upload's metadata holds the
// object's future metadata and, when the client chose one, its checksum algorithm and
// type, which UploadPart and CompleteMultipartUpload read back.
func (c *call) createMultipartUpload() error {
	if err := c.checkUnsupported(); err != nil {
		return err
	}
	md, err := c.requestMetadata()
	if err != nil {
		return err
	}
	if err := c.addRequestTags(md); err != nil {
		return err
	}
	alg, typ, err := c.multipartChecksum()
	if err != nil {
		return err
	}
	if alg != checksum.None {
		md[mdChecksumAlgorithm] = alg.String()
		md[mdChecksumType] = typ.String()
	}
	lock, err := c.requestLock()
	if err != nil {
		return err
	}
	lockMetadata(md, lock)
	id, err := c.h.layer.NewMultipartUpload(c.context(), c.bucket, c.key, objstore.PutOptions{Metadata: md})
	if err != nil {
		return err
	}
	if alg != checksum.None {
		c.w.Header().Set("x-amz-checksum-algorithm", alg.String())
		c.w.Header().Set("x-amz-checksum-type", typ.String())
	}
	x := c.startXML("InitiateMultipartUploadResult")
	x.String("Bucket", c.bucket)
	x.String("Key", c.key)
	x.String("UploadId", id)
	x.Close("InitiateMultipartUploadResult")
	c.sendXML(http.StatusOK)
	return nil
}

// multipartChecksum reads x-amz-checksum-algorithm and x-amz-checksum-type.
func (c *call) multipartChecksum() (checksum.Algorithm, checksum.Type, error) {
	av, tv := c.header("x-amz-checksum-algorithm"), c.header("x-amz-checksum-type")
	if av == nil {
		if tv != nil {
			return checksum.None, checksum.TypeNone, s3err.InvalidChecksumType
		}
		return checksum.None, checksum.TypeNone, nil
	}
	alg, err := checksum.ParseAlgorithm(av)
	if err != nil {
		return checksum.None, checksum.TypeNone, s3err.InvalidChecksumAlgorithm
	}
	typ := alg.DefaultType()
	if tv != nil {
		if typ, err = checksum.ParseType(tv); err != nil {
			return checksum.None, checksum.TypeNone, s3err.InvalidRequest.With("Value for x-amz-checksum-type header is invalid.")
		}
	}
	if !alg.Supports(typ) {
		return checksum.None, checksum.TypeNone, s3err.InvalidRequest.With("The " + typ.String() + " checksum type cannot be used with the " + alg.String() + " checksum algorithm.")
	}
	return alg, typ, nil
}

// uploadTarget reads the uploadId and partNumber parameters.
func (c *call) uploadTarget() (string, int, error) {
	id := c.query.GetString("uploadId")
	n, ok := parseDigits(c.queryValue("partNumber"))
	if !ok || n < 1 || n > 10000 {
		return "", 0, s3err.InvalidPartNumber
	}
	return id, int(n), nil
}

// uploadInfo returns the metadata an upload was created with, and NoSuchUpload for an
// unknown upload, before any body byte is read.
func (c *call) uploadInfo(id string) (map[string]string, error) {
	res, err := c.h.layer.ListObjectParts(c.context(), c.bucket, c.key, id, 0, 1)
	if err != nil {
		return nil, err
	}
	return res.Metadata, nil
}

// uploadPart serves UploadPart: the part streams into the object layer like a PutObject
// body. A checksum the client sends as a header is verified and stored with the part.
func (c *call) uploadPart() error {
	id, n, err := c.uploadTarget()
	if err != nil {
		return err
	}
	size, err := c.payloadSize()
	if err != nil {
		return err
	}
	md, err := c.uploadInfo(id)
	if err != nil {
		return err
	}
	want, _ := checksum.ParseAlgorithm([]byte(md[mdChecksumAlgorithm]))
	sent := requestChecksumAlgorithm(c)
	if want != checksum.None && sent != checksum.None && sent != want {
		return s3err.ChecksumTypeMismatch.With("Checksum Type mismatch occurred, expected checksum Type: " +
			want.String() + ", actual checksum Type: " + sent.String())
	}
	body, err := c.h.verifier.Body(&c.sig, &c.auth, c.r.Body, sigv4.BodyOptions{})
	if err != nil {
		return err
	}
	// A checksum sent as a header is known now; one sent as a trailer only once the body is
	// read: the layer asks for it then, before it commits the part.
	var opts objstore.PartOptions
	if v := headerChecksum(c); v.Algorithm != checksum.None {
		opts.Checksum = v.Algorithm.String() + ":" + v.Base64()
	}
	opts.ContentMD5, _ = body.ContentMD5() // verified by the body before its io.EOF
	capture := &checksumCapture{body: body}
	opts.FinalChecksum = func() string {
		if capture.sum.Algorithm == checksum.None {
			return ""
		}
		return capture.sum.Algorithm.String() + ":" + capture.sum.Base64()
	}
	part, err := c.h.layer.PutObjectPart(c.context(), c.bucket, c.key, id, n, capture, size, opts)
	if err != nil {
		return err
	}
	c.setETag(part.ETag)
	if capture.sum.Algorithm != checksum.None {
		c.w.Header().Set(capture.sum.Algorithm.HeaderName(), capture.sum.Base64())
	}
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// requestChecksumAlgorithm returns the algorithm of the checksum the request carries, as
// a header, a declared trailer or x-amz-sdk-checksum-algorithm; None when it has none.
func requestChecksumAlgorithm(c *call) checksum.Algorithm {
	for _, f := range c.r.Fields() {
		if a, ok := checksum.AlgorithmForHeader(f.Name); ok {
			return a
		}
	}
	if v := c.header("x-amz-trailer"); v != nil {
		if a, ok := checksum.AlgorithmForHeader(trimSpace(v)); ok {
			return a
		}
	}
	if v := c.header("x-amz-sdk-checksum-algorithm"); v != nil {
		if a, err := checksum.ParseAlgorithm(v); err == nil {
			return a
		}
	}
	return checksum.None
}

// headerChecksum returns the checksum sent as an x-amz-checksum-* header (verified later
// by the body reader), or the zero Value.
func headerChecksum(c *call) checksum.Value {
	for _, f := range c.r.Fields() {
		if a, ok := checksum.AlgorithmForHeader(f.Name); ok {
			v, err := checksum.ParseBase64(a, f.Value)
			if err != nil {
				return checksum.Value{}
			}
			return v
		}
	}
	return checksum.Value{}
}

// parsePartChecksum parses the "ALGORITHM:base64" form the object layer stores.
func parsePartChecksum(s string) (checksum.Value, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			a, err := checksum.ParseAlgorithm([]byte(s[:i]))
			if err != nil {
				return checksum.Value{}, false
			}
			v, err := checksum.ParseBase64(a, []byte(s[i+1:]))
			return v, err == nil
		}
	}
	return checksum.Value{}, false
}

// abortMultipartUpload serves AbortMultipartUpload.
func (c *call) abortMultipartUpload() error {
	if err := c.h.layer.AbortMultipartUpload(c.context(), c.bucket, c.key, c.query.GetString("uploadId")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// listParts serves ListParts.
func (c *call) listParts() error {
	id := c.query.GetString("uploadId")
	p, err := c.parseListParams("max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v, ok := c.query.Get("part-number-marker"); ok {
		n, good := parseDigits(v)
		if !good || n > 10000 {
			return s3err.InvalidArgument.With("Argument part-number-marker must be an integer between 0 and 10000")
		}
		marker = int(n)
	}
	var res objstore.ListPartsResult
	if p.maxKeys > 0 {
		res, err = c.h.layer.ListObjectParts(c.context(), c.bucket, c.key, id, marker, p.maxKeys)
	} else {
		res, err = c.h.layer.ListObjectParts(c.context(), c.bucket, c.key, id, 0, 1)
		res.Parts, res.IsTruncated = nil, false
	}
	if err != nil {
		return err
	}
	x := c.startXML("ListPartsResult")
	x.String("Bucket", c.bucket)
	p.name(x, "Key", c.key)
	x.String("UploadId", id)
	x.Open("Initiator")
	x.String("ID", c.h.ownerID)
	x.String("DisplayName", c.h.ownerName)
	x.Close("Initiator")
	c.writeOwner(x)
	x.String("StorageClass", "STANDARD")
	x.Int("PartNumberMarker", int64(marker))
	if res.IsTruncated {
		x.Int("NextPartNumberMarker", int64(res.NextPartNumberMarker))
	} else if len(res.Parts) > 0 {
		x.Int("NextPartNumberMarker", int64(res.Parts[len(res.Parts)-1].Number))
	}
	x.Int("MaxParts", int64(p.maxKeys))
	x.Bool("IsTruncated", res.IsTruncated)
	if a := res.Metadata[mdChecksumAlgorithm]; a != "" {
		x.String("ChecksumAlgorithm", a)
		x.String("ChecksumType", res.Metadata[mdChecksumType])
	}
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	for _, part := range res.Parts {
		x.Open("Part")
		x.Int("PartNumber", int64(part.Number))
		x.Time("LastModified", part.ModTime)
		x.ETag("ETag", part.ETag)
		x.Int("Size", part.Size)
		if v, ok := parsePartChecksum(part.Checksum); ok {
			x.String("Checksum"+v.Algorithm.String(), v.Base64())
		}
		x.Close("Part")
	}
	x.Close("ListPartsResult")
	c.sendXML(http.StatusOK)
	return nil
}

// listMultipartUploads serves ListMultipartUploads.
func (c *call) listMultipartUploads() error {
	p, err := c.parseListParams("max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := c.query.GetString("key-marker"), c.query.GetString("upload-id-marker")
	var res objstore.ListUploadsResult
	if p.maxKeys > 0 {
		res, err = c.h.layer.ListMultipartUploads(c.context(), c.bucket, objstore.ListUploadsOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: p.maxKeys,
		})
	} else {
		_, err = c.h.layer.GetBucketInfo(c.context(), c.bucket)
	}
	if err != nil {
		return err
	}
	x := c.startXML("ListMultipartUploadsResult")
	x.String("Bucket", c.bucket)
	p.name(x, "KeyMarker", keyMarker)
	x.String("UploadIdMarker", idMarker)
	if res.IsTruncated {
		p.name(x, "NextKeyMarker", res.NextKeyMarker)
		x.String("NextUploadIdMarker", res.NextUploadIDMarker)
	}
	if p.delimiter != "" {
		p.name(x, "Delimiter", p.delimiter)
	}
	p.name(x, "Prefix", p.prefix)
	x.Int("MaxUploads", int64(p.maxKeys))
	x.Bool("IsTruncated", res.IsTruncated)
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	for _, u := range res.Uploads {
		x.Open("Upload")
		p.name(x, "Key", u.Key)
		x.String("UploadId", u.UploadID)
		x.Open("Initiator")
		x.String("ID", c.h.ownerID)
		x.String("DisplayName", c.h.ownerName)
		x.Close("Initiator")
		c.writeOwner(x)
		x.String("StorageClass", "STANDARD")
		x.Time("Initiated", u.Initiated)
		x.Close("Upload")
	}
	for _, pre := range res.Prefixes {
		x.Open("CommonPrefixes")
		p.name(x, "Prefix", pre)
		x.Close("CommonPrefixes")
	}
	x.Close("ListMultipartUploadsResult")
	c.sendXML(http.StatusOK)
	return nil
}

// partNumberString formats a part number for messages.
func partNumberString(n int) string { return strconv.Itoa(n) }
