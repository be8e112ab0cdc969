package s3frontend

import (
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/iam/policy"
)

// requestContext is the policy.Context of a call: the condition keys of the request,
// computed when a statement asks for one (most decisions come from the cache and ask
// none).
type requestContext struct {
	c *call
	// tags are the object's tags once the handler has read them (s3:ExistingObjectTag);
	// haveTags false until then.
	tags     map[string]string
	haveTags bool
	// askedTags records that a statement asked for a tag before they were known: the
	// object read decides again once it has them.
	askedTags bool
}

var _ policy.Context = (*requestContext)(nil)

// Values implements policy.Context. key is lower case.
func (rc *requestContext) Values(key string) ([]string, bool) {
	c := rc.c
	one := func(v []byte) ([]string, bool) {
		if v == nil {
			return nil, false
		}
		return []string{string(v)}, true
	}
	switch key {
	case "aws:sourceip":
		if !c.r.RemoteAddr.IsValid() {
			return nil, false
		}
		return []string{c.r.RemoteAddr.Addr().Unmap().String()}, true
	case "aws:securetransport":
		return []string{strconv.FormatBool(c.h.secure.Load())}, true
	case "aws:currenttime":
		return []string{policy.FormatTime(c.clock.start)}, true
	case "aws:epochtime":
		return []string{strconv.FormatInt(c.clock.start.Unix(), 10)}, true
	case "aws:useragent":
		return one(c.r.Header("user-agent"))
	case "aws:referer":
		return one(c.r.Header("referer"))
	case "aws:tokenissuetime":
		if c.caller == nil || c.caller.Session == nil {
			return nil, false
		}
		return []string{policy.FormatTime(time.Unix(c.caller.Session.Issued, 0))}, true
	case "aws:multifactorauthpresent":
		return nil, false
	case "s3:prefix", "s3:delimiter", "s3:max-keys":
		if opActions[c.route.Op].action != "s3:ListBucket" && opActions[c.route.Op].action != "s3:ListBucketVersions" {
			return nil, false
		}
		v, ok := c.query.Get(strings.TrimPrefix(key, "s3:"))
		if !ok {
			return nil, false
		}
		return []string{string(v)}, true
	case "s3:x-amz-acl", "s3:x-amz-copy-source", "s3:x-amz-server-side-encryption", "s3:x-amz-metadata-directive",
		"s3:x-amz-storage-class", "s3:x-amz-content-sha256":
		return one(c.header(strings.TrimPrefix(key, "s3:")))
	case "s3:signatureversion":
		if c.anonymous {
			return nil, false
		}
		return []string{"AWS4-HMAC-SHA256"}, true
	case "s3:authtype":
		switch {
		case c.anonymous:
			return nil, false
		case c.auth.Presigned:
			return []string{"REST-QUERY-STRING"}, true
		}
		return []string{"REST-HEADER"}, true
	case "s3:versionid":
		return one(c.queryValue("versionId"))
	}
	if name, ok := strings.CutPrefix(key, "s3:existingobjecttag/"); ok {
		if !rc.haveTags {
			rc.askedTags = true
			return nil, false
		}
		for k, v := range rc.tags {
			if strings.EqualFold(k, name) {
				return []string{v}, true
			}
		}
		return nil, false
	}
	return nil, false
}
