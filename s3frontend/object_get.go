package s3frontend

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// defaultContentType is what S3 reports for an object stored without a Content-Type.
const defaultContentType = "binary/octet-stream"

// getObject serves GetObject: the object layer's decoder writes straight into the
// response, stripe by stripe.
func (c *call) getObject() error {
	hd, err := c.openNamed()
	if err != nil {
		return c.objectAccess(objstore.ObjectInfo{}, err)
	}
	defer hd.Close()
	if err := c.objectAccess(hd.Info(), nil); err != nil {
		return err
	}
	c.setVersionHeader(hd.Info().Version.VersionID)
	c.setLockHeaders(hd.Info().Version.Lock)
	c.setExpiration(hd.Info())
	return c.serveObject(hd.Info(), hd)
}

// headObject serves HeadObject from the object's information alone.
func (c *call) headObject() error {
	info, err := c.statNamed()
	if err := c.objectAccess(info, err); err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	c.setLockHeaders(info.Version.Lock)
	c.setExpiration(info)
	return c.serveObject(info, nil)
}

// serveObject answers a GET (hd set) or HEAD (hd nil) of info: conditions, part or range,
// headers, then the body.
func (c *call) serveObject(info objstore.ObjectInfo, hd objstore.ObjectHandle) error {
	cd := conditions{
		ifMatch:         c.header("if-match"),
		ifNoneMatch:     c.header("if-none-match"),
		ifModifiedSince: c.header("if-modified-since"),
		ifUnmodifiedSin: c.header("if-unmodified-since"),
	}
	if e := cd.check(info.ETag, info.ModTime, false); e != nil {
		if e.Status == http.StatusNotModified {
			c.setValidators(info)
		}
		return e
	}
	whole := byteRange{off: 0, length: info.Size}
	rng, partial := whole, false
	partsCount := 0
	if pn, ok := c.query.Get("partNumber"); ok {
		if c.header("range") != nil {
			return s3err.InvalidRequest.With("Cannot specify both Range header and partNumber query parameter")
		}
		n, good := parseDigits(pn)
		if !good || n < 1 || n > 10000 {
			return s3err.InvalidPartNumber
		}
		r, count, err := partRange(info, int(n))
		if err != nil {
			return err
		}
		rng, partsCount = r, count
		partial = count > 1 || r.length != info.Size
	} else if v := c.header("range"); v != nil {
		r, ok, err := parseRange(v, info.Size)
		if err != nil {
			c.scratch = append(append(c.scratch[:0], "bytes */"...), strconv.FormatInt(info.Size, 10)...)
			c.setHeader("Content-Range", c.scratch)
			return err
		}
		if ok {
			rng, partial = r, true
		}
	}

	mark := c.w.Header().Len()
	c.setValidators(info)
	c.setObjectHeaders(info)
	c.scratch = strconv.AppendInt(c.scratch[:0], rng.length, 10)
	c.setHeader("Content-Length", c.scratch)
	c.w.Header().Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		c.scratch = appendContentRange(c.scratch[:0], rng, info.Size)
		c.setHeader("Content-Range", c.scratch)
	}
	if partsCount > 0 {
		c.scratch = strconv.AppendInt(c.scratch[:0], int64(partsCount), 10)
		c.setHeader("x-amz-mp-parts-count", c.scratch)
	}
	if !partial || partsCount > 0 && rng.length == info.Size {
		c.setChecksumHeaders(info)
	}
	if hd == nil {
		c.w.WriteHeader(status)
		return nil
	}
	c.body = bodyWriter{w: c.w, status: status}
	if _, err := hd.WriteRange(c.readContext(), &c.body, rng.off, rng.length); err != nil {
		if !c.body.started {
			c.rollbackHeaders(mark)
			return err
		}
		// Part of the body is out: the only honest signal left is to cut the connection,
		// so the client sees fewer bytes than Content-Length announced.
		c.h.log.Warn("s3: GET failed mid-body", "bucket", c.bucket, "key", c.key, "request", string(c.reqID), "err", err)
		panic(httpserver.ErrAbortHandler)
	}
	if !c.body.started {
		c.w.WriteHeader(status)
	}
	return nil
}

// partRange returns the byte range of part n of an object and its number of parts.
func partRange(info objstore.ObjectInfo, n int) (byteRange, int, error) {
	parts := len(info.Parts)
	if parts == 0 {
		parts = 1 // an object without part records is one part
	}
	if n > parts {
		return byteRange{}, 0, s3err.InvalidRange.With("The requested partnumber is not satisfiable")
	}
	if len(info.Parts) == 0 {
		return byteRange{off: 0, length: info.Size}, 1, nil
	}
	var off int64
	for i := 0; i < n-1; i++ {
		off += info.Parts[i].Size
	}
	return byteRange{off: off, length: info.Parts[n-1].Size}, parts, nil
}

// setValidators sets ETag and Last-Modified.
func (c *call) setValidators(info objstore.ObjectInfo) {
	c.scratch = appendQuoted(c.scratch[:0], info.ETag)
	c.setHeader("ETag", c.scratch)
	c.scratch = info.ModTime.UTC().AppendFormat(c.scratch[:0], http.TimeFormat)
	c.setHeader("Last-Modified", c.scratch)
}

// storedHeaders are the standard headers stored with an object and sent back as they were
// given, with the response-* parameter that overrides each on GET.
var storedHeaders = [...]struct{ key, name, override string }{
	{"content-type", "Content-Type", "response-content-type"},
	{"content-encoding", "Content-Encoding", "response-content-encoding"},
	{"content-disposition", "Content-Disposition", "response-content-disposition"},
	{"content-language", "Content-Language", "response-content-language"},
	{"cache-control", "Cache-Control", "response-cache-control"},
	{"expires", "Expires", "response-expires"},
	{"x-amz-website-redirect-location", "x-amz-website-redirect-location", ""},
}

// setObjectHeaders sets the stored standard headers (with their response-* overrides) and
// the user metadata.
func (c *call) setObjectHeaders(info objstore.ObjectInfo) {
	hdr := c.w.Header()
	for _, sh := range storedHeaders {
		if sh.override != "" {
			if v, ok := c.query.Get(sh.override); ok {
				hdr.SetBytes(sh.name, v)
				continue
			}
		}
		if v, ok := info.Metadata[sh.key]; ok {
			hdr.Set(sh.name, v)
		} else if sh.key == "content-type" {
			hdr.Set(sh.name, defaultContentType)
		}
	}
	for k, v := range info.Metadata {
		if strings.HasPrefix(k, "x-amz-meta-") {
			hdr.Add(k, v)
		}
	}
	if n := countTags(info.Metadata[mdTagging]); n > 0 {
		c.scratch = strconv.AppendInt(c.scratch[:0], int64(n), 10)
		hdr.SetBytes("x-amz-tagging-count", c.scratch)
	}
}

// setChecksumHeaders sends the stored checksum when the client asked for it with
// x-amz-checksum-mode: ENABLED (whole-object responses only, as S3 does).
func (c *call) setChecksumHeaders(info objstore.ObjectInfo) {
	if v := c.header("x-amz-checksum-mode"); v == nil || !httpwire.EqualFold(v, "enabled") {
		return
	}
	alg, val, typ := storedChecksum(info.Metadata)
	if alg == "" {
		return
	}
	hdr := c.w.Header()
	hdr.Set(alg, val)
	hdr.Set("x-amz-checksum-type", typ)
}

// rollbackHeaders removes the header fields added since the header had mark fields, so
// that an error response does not carry an object's headers.
func (c *call) rollbackHeaders(mark int) {
	hdr := c.w.Header()
	for hdr.Len() > mark {
		hdr.Del(string(hdr.Field(hdr.Len() - 1).Name))
	}
}

// appendQuoted appends "s".
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// bodyWriter fixes the response status on the first body byte, so that an error before
// any byte was produced can still become an S3 error response.
type bodyWriter struct {
	w       httpserver.ResponseWriter
	status  int
	started bool
}

// Write implements io.Writer.
func (b *bodyWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.started = true
		b.w.WriteHeader(b.status)
	}
	return b.w.Write(p)
}
