package s3frontend

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// completeMultipartUpload serves CompleteMultipartUpload. The object's checksum is
// combined from the stored part checksums (COMPOSITE or FULL_OBJECT, as the upload was
// created) without re-reading any data, and stored in the same commit as the object.
func (c *call) completeMultipartUpload() error {
	id := c.query.GetString("uploadId")
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(doc))) == 0 {
		return s3err.MalformedXML
	}
	req, err := s3xml.ParseComplete(doc)
	if err != nil {
		return s3err.MalformedXML
	}
	pre, err := c.writePreconditions()
	if err != nil {
		return err
	}
	stored, upload, err := c.allParts(id)
	if err != nil {
		return err
	}
	parts := make([]objstore.CompletePart, len(req))
	sums := make([]checksum.Part, 0, len(req))
	for i, p := range req {
		parts[i] = objstore.CompletePart{Number: p.PartNumber, ETag: p.ETag}
		sp, ok := stored[p.PartNumber]
		if !ok {
			continue // the object layer reports InvalidPart (or the order error first)
		}
		v, has := parsePartChecksum(sp.Checksum)
		for name, sent := range p.Checksums {
			// A part checksum in the request must be the one stored with the part. A part
			// stored without one (its checksum came as a trailer, verified but not kept)
			// cannot be compared: the claim is ignored, and the object gets no checksum.
			if has && ("Checksum"+v.Algorithm.String() != name || v.Base64() != sent) {
				return s3err.InvalidPart.With("The checksum of part " + partNumberString(p.PartNumber) + " does not match the one it was uploaded with.")
			}
		}
		if has {
			sums = append(sums, checksum.Part{Checksum: v, Size: sp.Size})
		}
	}
	md, sum, err := c.objectChecksum(upload, sums, len(req))
	if err != nil {
		return err
	}
	info, err := c.h.layer.CompleteMultipartUpload(c.context(), c.bucket, c.key, id, parts,
		objstore.CompleteOptions{Preconditions: pre, Metadata: md, Lock: uploadLock(upload)})
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	x := c.startXML("CompleteMultipartUploadResult")
	x.String("Location", "/"+c.bucket+"/"+c.key)
	x.String("Bucket", c.bucket)
	x.String("Key", c.key)
	x.ETag("ETag", info.ETag)
	if sum.Value.Algorithm != checksum.None {
		x.String("Checksum"+sum.Value.Algorithm.String(), sum.String())
		x.String("ChecksumType", sum.Type.String())
	}
	x.Close("CompleteMultipartUploadResult")
	c.sendXML(http.StatusOK)
	return nil
}

// allParts returns every stored part of an upload by number, and the upload's metadata.
func (c *call) allParts(id string) (map[int]objstore.PartInfo, map[string]string, error) {
	parts := make(map[int]objstore.PartInfo)
	var md map[string]string
	marker := 0
	for page := 0; page <= 10000/maxListKeys+1; page++ {
		res, err := c.h.layer.ListObjectParts(c.context(), c.bucket, c.key, id, marker, maxListKeys)
		if err != nil {
			return nil, nil, err
		}
		md = res.Metadata
		for _, p := range res.Parts {
			parts[p.Number] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	return parts, md, nil
}

// objectChecksum combines the part checksums into the object's, when every listed part
// has one of the same algorithm (the upload's, if it named one). It returns the metadata
// to add at completion. A whole-object checksum the client sends as a header must match.
func (c *call) objectChecksum(upload map[string]string, sums []checksum.Part, listed int) (map[string]string, checksum.Multipart, error) {
	want, _ := checksum.ParseAlgorithm([]byte(upload[mdChecksumAlgorithm]))
	typ, _ := checksum.ParseType([]byte(upload[mdChecksumType]))
	if len(sums) != listed || len(sums) == 0 {
		return nil, checksum.Multipart{}, nil // a part without a stored checksum: none for the object
	}
	alg := sums[0].Checksum.Algorithm
	if want != checksum.None && alg != want {
		return nil, checksum.Multipart{}, nil
	}
	if typ == checksum.TypeNone {
		typ = alg.DefaultType()
	}
	m, err := checksum.Combine(typ, sums)
	if err != nil {
		return nil, checksum.Multipart{}, nil // mixed algorithms: no object checksum
	}
	if v := headerChecksum(c); v.Algorithm != checksum.None && typ == checksum.FullObject {
		if !v.Equal(m.Value) {
			return nil, checksum.Multipart{}, s3err.BadDigest.With("The " + v.Algorithm.String() + " you specified did not match the calculated checksum.")
		}
	}
	return map[string]string{alg.HeaderName(): m.String(), mdChecksumType: typ.String()}, m, nil
}

// uploadPartCopy serves UploadPartCopy: a range of an existing object becomes a part,
// read through an object handle under the copy-source conditions.
func (c *call) uploadPartCopy() error {
	id, n, err := c.uploadTarget()
	if err != nil {
		return err
	}
	src, ok := router.ParseCopySource(c.header("x-amz-copy-source"))
	if !ok {
		return s3err.InvalidCopySource
	}
	if err := c.mayReadSource(src.Bucket, src.Key); err != nil {
		return err
	}
	if _, err := c.uploadInfo(id); err != nil {
		return err
	}
	var hd objstore.ObjectHandle
	if c.h.versions != nil {
		hd, err = c.h.versions.OpenVersion(c.context(), src.Bucket, src.Key, src.VersionID)
	} else if src.VersionID != "" && src.VersionID != router.NullVersion {
		err = objstore.ErrNoSuchVersion
	} else {
		hd, err = c.h.layer.OpenObject(c.context(), src.Bucket, src.Key)
	}
	if err != nil {
		return c.copySourceErr(err)
	}
	defer hd.Close()
	if src.VersionID != "" {
		c.w.Header().Set("x-amz-copy-source-version-id", src.VersionID)
	}
	info := hd.Info()
	cd := c.copySourceConditions()
	if e := cd.check(info.ETag, info.ModTime, true); e != nil {
		return e
	}
	rng := byteRange{off: 0, length: info.Size}
	if v := c.header("x-amz-copy-source-range"); v != nil {
		r, err := parseCopyRange(v, info.Size)
		if err != nil {
			return err
		}
		rng = r
	}
	if rng.length > maxPutSize {
		return s3err.InvalidRequest.With("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	part, err := c.h.layer.PutObjectPart(c.context(), c.bucket, c.key, id, n,
		io.NewSectionReader(hd, rng.off, rng.length), rng.length, objstore.PartOptions{})
	if err != nil {
		return err
	}
	x := c.startXML("CopyPartResult")
	x.Time("LastModified", part.ModTime)
	x.ETag("ETag", part.ETag)
	x.Close("CopyPartResult")
	c.sendXML(http.StatusOK)
	return nil
}

// parseCopyRange parses x-amz-copy-source-range: exactly "bytes=first-last", inside the
// source.
func parseCopyRange(v []byte, size int64) (byteRange, error) {
	const prefix = "bytes="
	s := string(v)
	if !strings.HasPrefix(s, prefix) {
		return byteRange{}, s3err.InvalidCopyPartRange
	}
	first, last, ok := strings.Cut(s[len(prefix):], "-")
	a, ok1 := parseDigits([]byte(first))
	b, ok2 := parseDigits([]byte(last))
	if !ok || !ok1 || !ok2 || b < a {
		return byteRange{}, s3err.InvalidCopyPartRange
	}
	if b >= size {
		return byteRange{}, s3err.InvalidArgument.With("Range specified is not valid for source object of size: " + strconv.FormatInt(size, 10))
	}
	return byteRange{off: a, length: b - a + 1}, nil
}
