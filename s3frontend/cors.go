package s3frontend

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// A bucket's CORS configuration is its "cors" document, stored as the client sent it once
// it parsed and validated; it is parsed again where it is used: preflight OPTIONS requests
// (which browsers never sign) and actual requests that carry an Origin header.

// errCORSForbidden answers a preflight no rule allows, as S3 does.
var errCORSForbidden = &s3err.Error{Code: "AccessForbidden", Status: http.StatusForbidden,
	Message: "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."}

// bucketCORS returns the bucket's CORS rules, nil when it has none.
func (c *call) bucketCORS() ([]s3xml.CORSRule, error) {
	cfg, err := c.bucketConfig()
	if err != nil {
		return nil, err
	}
	doc := cfg[objstore.BucketConfigCORS]
	if doc == "" {
		return nil, nil
	}
	rules, err := s3xml.ParseCORS([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("stored CORS configuration of %s: %w", c.bucket, err)
	}
	return rules, nil
}

// getBucketCORS serves GetBucketCors: NoSuchCORSConfiguration when there is none.
func (c *call) getBucketCORS() error {
	rules, err := c.bucketCORS()
	if err != nil {
		return err
	}
	if rules == nil {
		return s3err.NoSuchCORSConfiguration
	}
	x := c.startXMLNoRoot()
	x.WriteCORS(rules)
	c.sendXML(http.StatusOK)
	return nil
}

// putBucketCORS serves PutBucketCors.
func (c *call) putBucketCORS() error {
	doc, err := c.readXMLBody()
	if err != nil {
		return err
	}
	if _, err := s3xml.ParseCORS(doc); err != nil {
		if errors.Is(err, s3xml.ErrInvalidCORS) {
			return s3err.InvalidRequest.With(s3xml.CORSMessage(err))
		}
		return s3err.MalformedXML
	}
	if err := c.setBucketConfig(objstore.BucketConfigCORS, string(doc)); err != nil {
		return err
	}
	return c.empty()
}

// deleteBucketCORS serves DeleteBucketCors.
func (c *call) deleteBucketCORS() error {
	return c.deleteBucketConfig(objstore.BucketConfigCORS)
}

// preflightCORS answers a preflight OPTIONS request: 200 with the Access-Control-*
// headers of the first rule that allows its origin, method and headers, 403 when none
// does (or the bucket has no CORS configuration), 400 without an Origin or a method.
func (c *call) preflightCORS() error {
	origin := c.r.Header("origin")
	method := c.r.Header("access-control-request-method")
	if len(origin) == 0 {
		return s3err.BadRequest.With("Insufficient information. Origin request header needed.")
	}
	if len(method) == 0 {
		return s3err.BadRequest.With("Invalid Access-Control-Request-Method: null")
	}
	rules, err := c.bucketCORS()
	if err != nil {
		return err
	}
	reqHeaders := string(c.r.Header("access-control-request-headers"))
	rule := matchCORS(rules, string(origin), string(method), reqHeaders)
	if rule == nil {
		return errCORSForbidden
	}
	c.setCORSHeaders(rule, string(origin))
	hdr := c.w.Header()
	if reqHeaders != "" {
		hdr.Set("Access-Control-Allow-Headers", reqHeaders)
	}
	if rule.MaxAgeSeconds >= 0 {
		hdr.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
	}
	hdr.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// corsActual adds the Access-Control-* headers to the response of a request that carries
// an Origin, when a rule of the bucket allows its origin and method. Vary: Origin goes on
// every such response of a bucket with rules, so that caches keep the answers apart.
func (c *call) corsActual() {
	origin := c.r.Header("origin")
	if len(origin) == 0 || c.route.Bucket == nil || c.h.configs == nil {
		return
	}
	rules, err := c.bucketCORS()
	if err != nil || rules == nil {
		return
	}
	c.w.Header().Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
	if rule := matchCORS(rules, string(origin), c.r.Method, ""); rule != nil {
		c.setCORSHeaders(rule, string(origin))
	}
}

// setCORSHeaders sets the headers a matching rule grants: the origin (or "*" for a rule of
// any origin, without credentials), its methods and exposed headers.
func (c *call) setCORSHeaders(rule *s3xml.CORSRule, origin string) {
	hdr := c.w.Header()
	if slices.Contains(rule.AllowedOrigins, "*") {
		hdr.Set("Access-Control-Allow-Origin", "*")
	} else {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	hdr.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(rule.ExposeHeaders) > 0 {
		hdr.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	hdr.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// matchCORS returns the first rule that allows origin, method and every header of the
// comma-separated list reqHeaders, nil if none does.
func matchCORS(rules []s3xml.CORSRule, origin, method, reqHeaders string) *s3xml.CORSRule {
	for i := range rules {
		r := &rules[i]
		if !slices.Contains(r.AllowedMethods, method) || !anyWildcard(r.AllowedOrigins, origin, false) {
			continue
		}
		ok := true
		for _, h := range strings.Split(reqHeaders, ",") {
			if h = strings.TrimSpace(h); h != "" && !anyWildcard(r.AllowedHeaders, h, true) {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// anyWildcard reports whether s matches one of the patterns, each of which may hold one
// '*' standing for any run of characters; fold compares without regard to case.
func anyWildcard(patterns []string, s string, fold bool) bool {
	if fold {
		s = strings.ToLower(s)
	}
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		pre, suf, wild := strings.Cut(p, "*")
		if !wild && p == s || wild && len(s) >= len(pre)+len(suf) && strings.HasPrefix(s, pre) && strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}
