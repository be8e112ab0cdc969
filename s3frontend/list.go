package s3frontend

import (
	"encoding/base64"
	"net/http"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// maxListKeys is the most entries one listing page holds.
const maxListKeys = 1000

// listParams are the arguments shared by the listings.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

// parseListParams reads prefix, delimiter, encoding-type and the page-size parameter
// named sizeParam (max-keys, max-uploads, max-parts).
func (c *call) parseListParams(sizeParam string) (listParams, error) {
	p := listParams{
		prefix:    c.query.GetString("prefix"),
		delimiter: c.query.GetString("delimiter"),
		maxKeys:   maxListKeys,
	}
	if v, ok := c.query.Get("encoding-type"); ok {
		if string(v) != "url" {
			return p, s3err.InvalidEncodingType
		}
		p.urlEncode = true
	}
	if v, ok := c.query.Get(sizeParam); ok {
		n, good := parseDigits(v)
		if !good || n > 1<<31-1 {
			return p, s3err.InvalidArgument.With("Argument " + sizeParam + " must be an integer between 0 and 2147483647")
		}
		p.maxKeys = int(min(n, maxListKeys))
	}
	return p, nil
}

// name appends <elem>s</elem>, URL-encoded when the client asked for encoding-type=url.
func (p *listParams) name(x *s3xml.Writer, elem, s string) {
	if p.urlEncode {
		x.Open(elem)
		x.B = appendURLEncoded(x.B, s)
		x.Close(elem)
		return
	}
	x.String(elem, s)
}

// list runs one page of the listing.
func (c *call) list(p listParams, marker string) (objstore.ListResult, error) {
	if p.maxKeys == 0 {
		// S3 answers an empty, untruncated page; the bucket must still exist.
		_, err := c.h.layer.GetBucketInfo(c.context(), c.bucket)
		return objstore.ListResult{}, err
	}
	return c.h.layer.ListObjects(c.context(), c.bucket, objstore.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, Marker: marker, MaxKeys: p.maxKeys,
	})
}

// listObjectsV1 serves ListObjects (version 1: marker, NextMarker).
func (c *call) listObjectsV1() error {
	p, err := c.parseListParams("max-keys")
	if err != nil {
		return err
	}
	marker := c.query.GetString("marker")
	res, err := c.list(p, marker)
	if err != nil {
		return err
	}
	x := c.startXML("ListBucketResult")
	x.String("Name", c.bucket)
	p.name(x, "Prefix", p.prefix)
	p.name(x, "Marker", marker)
	x.Int("MaxKeys", int64(p.maxKeys))
	if p.delimiter != "" {
		p.name(x, "Delimiter", p.delimiter)
	}
	x.Bool("IsTruncated", res.IsTruncated)
	if res.IsTruncated {
		p.name(x, "NextMarker", res.NextMarker)
	}
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	c.writeEntries(x, &p, res, entryContentsOwner)
	x.Close("ListBucketResult")
	c.sendXML(http.StatusOK)
	return nil
}

// listObjectsV2 serves ListObjectsV2 (continuation tokens, start-after, fetch-owner).
func (c *call) listObjectsV2() error {
	p, err := c.parseListParams("max-keys")
	if err != nil {
		return err
	}
	startAfter := c.query.GetString("start-after")
	marker := startAfter
	token, hasToken := c.query.Get("continuation-token")
	if hasToken {
		m, err := base64.RawURLEncoding.DecodeString(string(token))
		if err != nil || len(m) == 0 {
			return s3err.InvalidContinuationToken
		}
		marker = string(m)
	}
	kind := entryContents
	if string(c.queryValue("fetch-owner")) == "true" {
		kind = entryContentsOwner
	}
	res, err := c.list(p, marker)
	if err != nil {
		return err
	}
	x := c.startXML("ListBucketResult")
	x.String("Name", c.bucket)
	p.name(x, "Prefix", p.prefix)
	if startAfter != "" {
		p.name(x, "StartAfter", startAfter)
	}
	if hasToken {
		x.Bytes("ContinuationToken", token)
	}
	x.Int("KeyCount", int64(len(res.Objects)+len(res.Prefixes)))
	x.Int("MaxKeys", int64(p.maxKeys))
	if p.delimiter != "" {
		p.name(x, "Delimiter", p.delimiter)
	}
	x.Bool("IsTruncated", res.IsTruncated)
	if res.IsTruncated {
		x.String("NextContinuationToken", base64.RawURLEncoding.EncodeToString([]byte(res.NextMarker)))
	}
	if p.urlEncode {
		x.String("EncodingType", "url")
	}
	c.writeEntries(x, &p, res, kind)
	x.Close("ListBucketResult")
	c.sendXML(http.StatusOK)
	return nil
}

// entryKind is how writeEntries writes an object of a listing.
type entryKind uint8

const (
	entryContents      entryKind = iota // <Contents> without the owner
	entryContentsOwner                  // <Contents> with the owner
	entryVersion                        // <Version>, with its id and the owner
)

// writeEntries appends the objects (as kind says) and <CommonPrefixes> of a page.
func (c *call) writeEntries(x *s3xml.Writer, p *listParams, res objstore.ListResult, kind entryKind) {
	for i := range res.Objects {
		c.writeObjectEntry(x, p, &res.Objects[i], kind)
	}
	for _, pre := range res.Prefixes {
		x.Open("CommonPrefixes")
		p.name(x, "Prefix", pre)
		x.Close("CommonPrefixes")
	}
}

// writeObjectEntry appends one object of a listing, as kind says. A version without an
// id is the null one, and the latest (a layer without versions).
func (c *call) writeObjectEntry(x *s3xml.Writer, p *listParams, o *objstore.ObjectInfo, kind entryKind) {
	elem := "Contents"
	if kind == entryVersion {
		elem = "Version"
	}
	x.Open(elem)
	p.name(x, "Key", o.Key)
	if kind == entryVersion {
		if o.Version.VersionID == "" {
			x.String("VersionId", router.NullVersion)
			x.Bool("IsLatest", true)
		} else {
			x.String("VersionId", o.Version.VersionID)
			x.Bool("IsLatest", o.Version.IsLatest)
		}
	}
	x.Time("LastModified", o.ModTime)
	x.ETag("ETag", o.ETag)
	x.Int("Size", o.Size)
	if alg, _, typ := storedChecksum(o.Metadata); alg != "" {
		a, _ := checksum.AlgorithmForHeader([]byte(alg))
		x.String("ChecksumAlgorithm", a.String())
		x.String("ChecksumType", typ)
	}
	if kind != entryContents {
		c.writeOwner(x)
	}
	x.String("StorageClass", "STANDARD")
	x.Close(elem)
}

// appendURLEncoded appends s percent-encoded as S3 does for encoding-type=url: every byte
// but the unreserved characters and '/' (a space is %20, which every client decodes).
func appendURLEncoded(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == '~' || b == '/' {
			dst = append(dst, b)
			continue
		}
		dst = append(dst, '%', hexDigits[b>>4], hexDigits[b&15])
	}
	return dst
}
