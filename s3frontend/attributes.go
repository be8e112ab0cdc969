package s3frontend

import (
	"net/http"
	"strings"

	"github.com/flashstor/flashstor/s3frontend/checksum"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// objectAttributes are the names x-amz-object-attributes may list.
var objectAttributes = [...]string{"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}

// errInvalidAttribute answers an x-amz-object-attributes that is absent or names another
// attribute.
var errInvalidAttribute = s3err.InvalidArgument.With("Invalid attribute name specified.")

// getObjectAttributes serves GetObjectAttributes from the object's information alone: the
// attributes listed in x-amz-object-attributes; ObjectParts (for a multipart object) pages
// by x-amz-part-number-marker and x-amz-max-parts (1000 by default).
func (c *call) getObjectAttributes() error {
	want := map[string]bool{}
	for _, f := range c.r.Fields() {
		if !strings.EqualFold(string(f.Name), "x-amz-object-attributes") {
			continue
		}
		for _, a := range strings.Split(string(f.Value), ",") {
			a = strings.TrimSpace(a)
			known := false
			for _, k := range objectAttributes {
				known = known || a == k
			}
			if !known {
				return errInvalidAttribute
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return errInvalidAttribute
	}
	maxParts, marker := int64(1000), int64(0)
	if v := c.header("x-amz-max-parts"); v != nil {
		n, ok := parseDigits(v)
		if !ok || n > 1000 {
			return s3err.InvalidArgument.With("Invalid value for x-amz-max-parts")
		}
		maxParts = n
	}
	if v := c.header("x-amz-part-number-marker"); v != nil {
		n, ok := parseDigits(v)
		if !ok {
			return s3err.InvalidArgument.With("Invalid value for x-amz-part-number-marker")
		}
		marker = n
	}
	info, err := c.statSubresource()
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	c.w.Header().Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	x := c.startXML("GetObjectAttributesResponse")
	if want["ETag"] {
		x.String("ETag", info.ETag)
	}
	if alg, val, typ := storedChecksum(info.Metadata); want["Checksum"] && alg != "" {
		x.Open("Checksum")
		x.String(checksumElement(alg), val)
		x.String("ChecksumType", typ)
		x.Close("Checksum")
	}
	if want["ObjectParts"] && strings.Contains(info.ETag, "-") {
		x.Open("ObjectParts")
		x.Int("PartsCount", int64(len(info.Parts)))
		x.Int("PartNumberMarker", marker)
		x.Int("MaxParts", maxParts)
		n, truncated, next := int64(0), false, int64(0)
		for _, p := range info.Parts {
			if int64(p.Number) <= marker {
				continue
			}
			if n == maxParts {
				truncated = true
				break
			}
			n++
			next = int64(p.Number)
			x.Open("Part")
			x.Int("PartNumber", int64(p.Number))
			x.Int("Size", p.Size)
			if v, ok := parsePartChecksum(p.Checksum); ok && v.Algorithm != checksum.None {
				x.String("Checksum"+v.Algorithm.String(), v.Base64())
			}
			x.Close("Part")
		}
		x.Bool("IsTruncated", truncated)
		if truncated {
			x.Int("NextPartNumberMarker", next)
		}
		x.Close("ObjectParts")
	}
	if want["StorageClass"] {
		x.String("StorageClass", "STANDARD")
	}
	if want["ObjectSize"] {
		x.Int("ObjectSize", info.Size)
	}
	x.Close("GetObjectAttributesResponse")
	c.sendXML(http.StatusOK)
	return nil
}
