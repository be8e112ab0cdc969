package router

import (
	"strings"
	"testing"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore/layout"
)

func route(t *testing.T, rt *Router, method, host, target string, copySource bool) (Route, string) {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	var q Query
	if err := q.Parse([]byte(query)); err != nil {
		return Route{}, "InvalidURI"
	}
	var out Route
	if e := rt.Route(&Request{Method: method, Host: []byte(host), Path: []byte(path), Query: &q, CopySource: copySource}, &out); e != nil {
		return out, e.Code
	}
	return out, ""
}

func TestRoute(t *testing.T) {
	rt := New("s3.example.com")
	cases := []struct {
		method, host, target string
		copy                 bool
		op                   Op
		bucket, key, err     string
	}{
		{"GET", "h", "/", false, OpListBuckets, "", "", ""},
		{"GET", "h", "/?x-id=ListBuckets", false, OpListBuckets, "", "", ""},
		{"GET", "h", "/?max-buckets=3&prefix=a", false, OpListBuckets, "", "", ""},
		{"PUT", "h", "/", false, OpNone, "", "", "MethodNotAllowed"},
		{"PUT", "h", "/bkt", false, OpCreateBucket, "bkt", "", ""},
		{"PUT", "h", "/bkt/", false, OpCreateBucket, "bkt", "", ""},
		{"HEAD", "h", "/bkt", false, OpHeadBucket, "bkt", "", ""},
		{"DELETE", "h", "/bkt", false, OpDeleteBucket, "bkt", "", ""},
		{"GET", "h", "/bkt?location", false, OpGetBucketLocation, "bkt", "", ""},
		{"GET", "h", "/bkt?location=", false, OpGetBucketLocation, "bkt", "", ""},
		{"GET", "h", "/bkt", false, OpListObjects, "bkt", "", ""},
		{"GET", "h", "/bkt?prefix=a&delimiter=%2F&marker=m&max-keys=5&encoding-type=url", false, OpListObjects, "bkt", "", ""},
		{"GET", "h", "/bkt?list-type=2&continuation-token=x&start-after=y&fetch-owner=true", false, OpListObjectsV2, "bkt", "", ""},
		{"GET", "h", "/bkt?list-type=1", false, OpNone, "", "", "InvalidArgument"},
		{"GET", "h", "/bkt?uploads", false, OpListMultipartUploads, "bkt", "", ""},
		{"POST", "h", "/bkt?delete", false, OpDeleteObjects, "bkt", "", ""},
		{"GET", "h", "/bkt?delete", false, OpNone, "", "", "MethodNotAllowed"},
		{"PUT", "h", "/bkt/k", false, OpPutObject, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k", true, OpCopyObject, "bkt", "k", ""},
		{"GET", "h", "/bkt/a/b%20c", false, OpGetObject, "bkt", "a/b c", ""},
		{"GET", "h", "/bkt/a+b", false, OpGetObject, "bkt", "a+b", ""},
		{"GET", "h", "/bkt//x", false, OpGetObject, "bkt", "/x", ""},
		{"GET", "h", "/bkt/k?response-content-type=a&partNumber=2", false, OpGetObject, "bkt", "k", ""},
		{"HEAD", "h", "/bkt/k?partNumber=1", false, OpHeadObject, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?versionId=null", false, OpGetObject, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?versionId=3", false, OpNone, "", "", "InvalidArgument"},
		{"GET", "h", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", false, OpGetObject, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY", false, OpNone, "", "", "InvalidArgument"},
		{"DELETE", "h", "/bkt/k?versionId=null", false, OpDeleteObject, "bkt", "k", ""},
		{"GET", "h", "/bkt?versioning", false, OpGetBucketVersioning, "bkt", "", ""},
		{"PUT", "h", "/bkt?versioning", false, OpPutBucketVersioning, "bkt", "", ""},
		{"DELETE", "h", "/bkt?versioning", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?versions", false, OpListObjectVersions, "bkt", "", ""},
		{"GET", "h", "/bkt?versions&prefix=a&delimiter=/&key-marker=k&version-id-marker=null&max-keys=3&encoding-type=url", false, OpListObjectVersions, "bkt", "", ""},
		{"GET", "h", "/bkt?versions&version-id-marker=x", false, OpNone, "", "", "InvalidArgument"},
		{"GET", "h", "/bkt?versions&marker=x", false, OpNone, "", "", "NotImplemented"},
		{"DELETE", "h", "/bkt/k", false, OpDeleteObject, "bkt", "k", ""},
		{"POST", "h", "/bkt/k?uploads", false, OpCreateMultipartUpload, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?partNumber=1&uploadId=u", false, OpUploadPart, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?uploadId=u&partNumber=1", true, OpUploadPartCopy, "bkt", "k", ""},
		{"POST", "h", "/bkt/k?uploadId=u", false, OpCompleteMultipartUpload, "bkt", "k", ""},
		{"DELETE", "h", "/bkt/k?uploadId=u", false, OpAbortMultipartUpload, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?uploadId=u&max-parts=2&part-number-marker=1", false, OpListParts, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?partNumber=1", false, OpNone, "", "", "MethodNotAllowed"},
		{"POST", "h", "/bkt/k", false, OpNone, "", "", "MethodNotAllowed"},
		{"POST", "h", "/bkt", false, OpPostObject, "bkt", "", ""},
		{"PATCH", "h", "/bkt/k", false, OpNone, "", "", "MethodNotAllowed"},
		// Sub-resources that exist in S3 but not here never fall through to another op.
		{"GET", "h", "/bkt?acl", false, OpGetBucketACL, "bkt", "", ""},
		{"PUT", "h", "/bkt?acl", false, OpPutBucketACL, "bkt", "", ""},
		{"DELETE", "h", "/bkt?acl", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt/k?acl&versionId=null", false, OpGetObjectACL, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?acl", false, OpPutObjectACL, "bkt", "k", ""},
		{"GET", "h", "/bkt?cors", false, OpGetBucketCORS, "bkt", "", ""},
		{"PUT", "h", "/bkt?cors", false, OpPutBucketCORS, "bkt", "", ""},
		{"DELETE", "h", "/bkt?cors", false, OpDeleteBucketCORS, "bkt", "", ""},
		{"POST", "h", "/bkt?cors", false, OpNone, "", "", "MethodNotAllowed"},
		{"OPTIONS", "h", "/bkt", false, OpPreflightCORS, "bkt", "", ""},
		{"OPTIONS", "h", "/bkt/a/b", false, OpPreflightCORS, "bkt", "a/b", ""},
		{"OPTIONS", "h", "/bkt/k?uploadId=u&partNumber=2", false, OpPreflightCORS, "bkt", "k", ""},
		{"OPTIONS", "h", "/bkt/k?frobnicate", false, OpNone, "", "", "NotImplemented"},
		{"OPTIONS", "h", "/", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?website", false, OpNone, "", "", "NotImplemented"},
		{"GET", "h", "/bkt?policy", false, OpGetBucketPolicy, "bkt", "", ""},
		{"PUT", "h", "/bkt?policy", false, OpPutBucketPolicy, "bkt", "", ""},
		{"DELETE", "h", "/bkt?policy", false, OpDeleteBucketPolicy, "bkt", "", ""},
		{"GET", "h", "/bkt?policyStatus", false, OpGetBucketPolicyStatus, "bkt", "", ""},
		{"PUT", "h", "/bkt?policyStatus", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt/k?policy", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?website", false, OpNone, "", "", "NotImplemented"},
		{"GET", "h", "/bkt/k?attributes", false, OpGetObjectAttributes, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?attributes&versionId=null", false, OpGetObjectAttributes, "bkt", "k", ""},
		{"GET", "h", "/bkt?object-lock", false, OpGetObjectLockConfig, "bkt", "", ""},
		{"PUT", "h", "/bkt?object-lock", false, OpPutObjectLockConfig, "bkt", "", ""},
		{"DELETE", "h", "/bkt?object-lock", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt/k?retention&versionId=null", false, OpGetObjectRetention, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?retention", false, OpPutObjectRetention, "bkt", "k", ""},
		{"GET", "h", "/bkt/k?legal-hold", false, OpGetObjectLegalHold, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?legal-hold&versionId=null", false, OpPutObjectLegalHold, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?legal-hold&retention", false, OpNone, "", "", "MethodNotAllowed"},
		{"PUT", "h", "/bkt/k?attributes", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?attributes", false, OpNone, "", "", "MethodNotAllowed"},
		{"PUT", "h", "/bkt/k?lifecycle", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?lifecycle", false, OpGetBucketLifecycle, "bkt", "", ""},
		{"PUT", "h", "/bkt?lifecycle", false, OpPutBucketLifecycle, "bkt", "", ""},
		{"DELETE", "h", "/bkt?lifecycle", false, OpDeleteBucketLifecycle, "bkt", "", ""},
		{"GET", "h", "/bkt?tagging", false, OpGetBucketTagging, "bkt", "", ""},
		{"PUT", "h", "/bkt?tagging", false, OpPutBucketTagging, "bkt", "", ""},
		{"DELETE", "h", "/bkt?tagging", false, OpDeleteBucketTagging, "bkt", "", ""},
		{"GET", "h", "/bkt/k?tagging", false, OpGetObjectTagging, "bkt", "k", ""},
		{"PUT", "h", "/bkt/k?tagging&versionId=null", false, OpPutObjectTagging, "bkt", "k", ""},
		{"DELETE", "h", "/bkt/k?tagging", false, OpDeleteObjectTagging, "bkt", "k", ""},
		{"POST", "h", "/bkt/k?tagging", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt?tagging&prefix=a", false, OpNone, "", "", "NotImplemented"},
		{"POST", "h", "/bkt/k?restore", false, OpNone, "", "", "NotImplemented"},
		{"POST", "h", "/bkt/k?select&select-type=2", false, OpNone, "", "", "NotImplemented"},
		{"GET", "h", "/bkt/k?unheard-of", false, OpNone, "", "", "NotImplemented"},
		{"GET", "h", "/bkt?marker=a&uploadId=u", false, OpNone, "", "", "MethodNotAllowed"},
		{"GET", "h", "/bkt/k?prefix=a", false, OpNone, "", "", "NotImplemented"},
		// Presigned authentication and hoisted headers are not sub-resources.
		{"GET", "h", "/bkt/k?X-Amz-Algorithm=a&X-Amz-Credential=c&X-Amz-Date=d&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=s&x-amz-checksum-mode=ENABLED", false, OpGetObject, "bkt", "k", ""},
		// Names.
		{"GET", "h", "/Bkt/k", false, OpNone, "", "", "InvalidBucketName"},
		{"GET", "h", "/b/k", false, OpNone, "", "", "InvalidBucketName"},
		{"GET", "h", "/bkt/" + strings.Repeat("k", 1025), false, OpNone, "", "", "KeyTooLongError"},
		{"GET", "h", "/bkt/" + strings.Repeat("k", 1024), false, OpGetObject, "bkt", strings.Repeat("k", 1024), ""},
		{"GET", "h", "/bkt/%zz", false, OpNone, "", "", "InvalidURI"},
		{"GET", "h", "/bkt/%2", false, OpNone, "", "", "InvalidURI"},
		{"GET", "h", "*", false, OpNone, "", "", "InvalidURI"},
		// Virtual-host style.
		{"GET", "bkt.s3.example.com", "/", false, OpListObjects, "bkt", "", ""},
		{"GET", "BKT.S3.Example.COM:9000", "/a/b", false, OpGetObject, "bkt", "a/b", ""},
		{"PUT", "my.dotted.bkt.s3.example.com", "/", false, OpCreateBucket, "my.dotted.bkt", "", ""},
		{"GET", "s3.example.com", "/bkt/k", false, OpGetObject, "bkt", "k", ""},
		{"GET", "s3.example.com:9000", "/", false, OpListBuckets, "", "", ""},
		{"GET", "other.host", "/bkt/k", false, OpGetObject, "bkt", "k", ""},
		{"GET", "[::1]:9000", "/bkt/k", false, OpGetObject, "bkt", "k", ""},
		{"GET", "xs3.example.com", "/bkt/k", false, OpGetObject, "bkt", "k", ""},
	}
	for _, tc := range cases {
		r, code := route(t, rt, tc.method, tc.host, tc.target, tc.copy)
		if code != "" { // on failure only the error counts
			r.Bucket, r.Key = nil, nil
		}
		if code != tc.err || r.Op != tc.op || string(r.Bucket) != tc.bucket || string(r.Key) != tc.key {
			t.Errorf("%s %.80s (host %s, copy %v): %v %q %.40q %q; want %v %q %.40q %q",
				tc.method, tc.target, tc.host, tc.copy, r.Op, r.Bucket, r.Key, code, tc.op, tc.bucket, tc.key, tc.err)
		}
	}
}

func TestRouteAllocations(t *testing.T) {
	rt := New("")
	var q Query
	var out Route
	raw := []byte("response-content-type=text%2Fplain&x-id=GetObject")
	req := &Request{Method: httpwire.MethodGet, Host: []byte("h"), Path: []byte("/bucket/some/key%20x"), Query: &q}
	allocs := testing.AllocsPerRun(100, func() {
		q.Parse(raw)
		if e := rt.Route(req, &out); e != nil || out.Op != OpGetObject {
			t.Fatal(e, out.Op)
		}
	})
	if allocs != 0 {
		t.Errorf("routing a GET allocates %.1f times", allocs)
	}
}

func TestQuery(t *testing.T) {
	var q Query
	if err := q.Parse([]byte("a=1&&b&c=x%20y+z&d=%2B&=e&a=2")); err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", "1"}, {"b", ""}, {"c", "x y z"}, {"d", "+"}, {"", "e"}, {"a", "2"}}
	if q.Len() != len(want) {
		t.Fatalf("%d params, want %d", q.Len(), len(want))
	}
	for i, w := range want {
		if string(q.Name(i)) != w[0] || string(q.Value(i)) != w[1] {
			t.Errorf("param %d: %q=%q, want %q=%q", i, q.Name(i), q.Value(i), w[0], w[1])
		}
	}
	if v, ok := q.Get("a"); !ok || string(v) != "1" {
		t.Errorf("Get(a) = %q %v", v, ok)
	}
	if q.Has("z") {
		t.Error("Has(z)")
	}
	for _, bad := range []string{"a=%", "a=%4", "%zz=1", "a=%g0"} {
		if err := q.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if err := q.Parse([]byte(strings.Repeat("a&", 200))); err == nil {
		t.Error("200 parameters accepted")
	}
}

func TestValidBucketName(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "a.b-c": true, "123": true, strings.Repeat("a", 63): true, "1.2.3.4.5": true, "01.2.3.4": true,
		"ab": false, strings.Repeat("a", 64): false, "Abc": false, "a_b": false, "-ab": false, "ab-": false, ".ab": false,
		"a..b": false, "1.2.3.4": false, "xn--ab": false, "sthree-x": false, "ab-s3alias": false, "ab--ol-s3": false,
		"a b": false, "ab.": false, "amzn-s3-demo-x": false, "a.mrap": false,
	}
	for name, want := range cases {
		if got := ValidBucketName([]byte(name)); got != want {
			t.Errorf("ValidBucketName(%q) = %v, want %v", name, got, want)
		}
		if layoutOK := layout.CheckBucketName(name) == nil; layoutOK != want {
			t.Errorf("layout.CheckBucketName(%q) = %v, want %v", name, layoutOK, want)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	cases := []struct {
		in          string
		bucket, key string
		ok          bool
	}{
		{"bkt/key", "bkt", "key", true},
		{"/bkt/a/b%20c", "bkt", "a/b c", true},
		{"bkt/k?versionId=null", "bkt", "k", true},
		{"bkt/k?versionId=abc", "", "", false},
		{"bkt", "", "", false},
		{"bkt/", "", "", false},
		{"/k", "", "", false},
		{"BKT/k", "", "", false},
		{"bkt/%zz", "", "", false},
		{"bkt/" + strings.Repeat("k", 1025), "", "", false},
	}
	for _, tc := range cases {
		cs, ok := ParseCopySource([]byte(tc.in))
		if ok != tc.ok || cs.Bucket != tc.bucket || cs.Key != tc.key {
			t.Errorf("ParseCopySource(%q) = %+v %v, want %q %q %v", tc.in, cs, ok, tc.bucket, tc.key, tc.ok)
		}
	}
}
