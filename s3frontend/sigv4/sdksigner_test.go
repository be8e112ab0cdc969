package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

var docCreds = aws.Credentials{AccessKeyID: docAccessKey, SecretAccessKey: docSecret}

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// awkwardKeys are object keys with every character class that trips canonicalisation.
var awkwardKeys = []string{
	"plain.txt",
	"with space and  double",
	"plus+sign",
	"tilde~and_dash-dot.",
	"unicode/ü/日本語/✓",
	"encoded%2Fslash",
	"empty//segments//",
	"reserved!*'();:@&=$,?#[]",
	"percent%41literal",
	"",
}

// sdkRequest builds the request the S3 client would send for method and key, with the path
// escaped the way the SDK's S3 serializer does it.
func sdkRequest(t testing.TB, method, key, rawQuery string) *http.Request {
	t.Helper()
	path := "/bucket/" + key
	r, err := http.NewRequest(method, "https://s3.example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.URL.Path = path
	r.URL.RawPath = httpbinding.EscapePath(path, false)
	r.URL.RawQuery = rawQuery
	return r
}

func signHeader(t testing.TB, r *http.Request, payload string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payload)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := s.SignHTTP(context.Background(), docCreds, r, payload, "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
}

// TestSDKSignedRequests signs a table of requests with aws-sdk-go-v2's signer and verifies
// them; then mutates each signed element and expects S3's error.
func TestSDKSignedRequests(t *testing.T) {
	now := docTime.Add(3 * time.Hour)
	v := newTestVerifier(t, &now, 0)
	queries := []string{"", "uploads=", "list-type=2&prefix=a%20b&delimiter=%2F", "partNumber=2&uploadId=x~y", "a=2&a=1&b=", "prefix=%E2%9C%93&max-keys=10"}
	headers := []map[string][]string{
		nil,
		{"X-Amz-Meta-Note": {"  inner   spaces  here  "}},
		{"X-Amz-Meta-Multi": {"one", "two"}, "Content-Type": {"text/plain"}},
		{"Range": {"bytes=0-9"}, "X-Amz-Security-Token": {"session-token"}},
	}
	i := 0
	for _, method := range []string{"GET", "PUT", "HEAD", "DELETE", "POST"} {
		for _, key := range awkwardKeys {
			i++
			query := queries[i%len(queries)]
			hdr := headers[i%len(headers)]
			name := method + " " + key + " ?" + query
			t.Run(name, func(t *testing.T) {
				r := sdkRequest(t, method, key, query)
				for k, vs := range hdr {
					r.Header[k] = vs
				}
				payload := emptySHA
				if method == "PUT" {
					payload = unsignedPayload
				}
				signHeader(t, r, payload, now)
				req := fieldsFromHTTP(r)
				a, err := v.Verify(req)
				if err != nil {
					t.Fatalf("Verify: %v\nrequest: %s %s?%s", err, req.MethodBytes, req.Path, req.Query)
				}
				if string(a.AccessKey) != docAccessKey || a.Presigned {
					t.Fatalf("auth = %+v", a)
				}
				if tok := hdr["X-Amz-Security-Token"]; tok != nil && string(a.SecurityToken) != tok[0] {
					t.Fatalf("security token %q", a.SecurityToken)
				}
			})
		}
	}
}

func TestSDKSignedMutations(t *testing.T) {
	now := docTime.Add(3 * time.Hour)
	r := sdkRequest(t, "GET", "dir/obj ect+1", "versionId=3&x=y")
	r.Header.Set("X-Amz-Meta-A", "b")
	r.Header.Set("Range", "bytes=1-2")
	signHeader(t, r, emptySHA, now)
	base := fieldsFromHTTP(r)
	authz := r.Header.Get("Authorization")

	tests := []struct {
		name   string
		mutate func(f *Fields)
		clock  time.Duration
		fail   Failure
		code   string
	}{
		{"method", func(f *Fields) { f.MethodBytes = []byte("PUT") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"path", func(f *Fields) { f.Path = append(f.Path, 'x') }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"path case", func(f *Fields) { f.Path = []byte(strings.ToUpper(string(f.Path))) }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"query added", func(f *Fields) { f.Query = append(f.Query, "&z=1"...) }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"query value", func(f *Fields) { f.Query = []byte("versionId=4&x=y") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"signed header value", func(f *Fields) { f.setHeader("Range", "bytes=1-3") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"signed x-amz header", func(f *Fields) { f.setHeader("X-Amz-Meta-A", "c") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"host", func(f *Fields) { f.setHeader("Host", "evil.test") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"payload hash", func(f *Fields) { f.setHeader("X-Amz-Content-Sha256", unsignedPayload) }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"date", func(f *Fields) { f.setHeader("X-Amz-Date", "20130524T030001Z") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"signature", func(f *Fields) { f.setHeader("Authorization", authz[:len(authz)-1]+"0") }, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"signature upper case", func(f *Fields) {
			i := strings.Index(authz, "Signature=") + len("Signature=")
			f.setHeader("Authorization", authz[:i]+strings.ToUpper(authz[i:]))
		}, 0, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"unsigned x-amz header", func(f *Fields) { f.setHeader("X-Amz-Meta-Extra", "1") }, 0, FailUnsignedHeaders, "AccessDenied"},
		{"unknown key", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, docAccessKey, "AKIANOTEXISTING", 1))
		}, 0, FailUnknownAccessKey, "InvalidAccessKeyId"},
		{"wrong region", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, "us-east-1", "eu-west-1", 1))
		}, 0, FailWrongRegion, "AuthorizationHeaderMalformed"},
		{"wrong service", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, "/s3/", "/ec2/", 1))
		}, 0, FailHeaderMalformed, "AuthorizationHeaderMalformed"},
		{"wrong terminal", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, "aws4_request", "aws5_request", 1))
		}, 0, FailHeaderMalformed, "AuthorizationHeaderMalformed"},
		{"credential date", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, "/20130524/", "/20130525/", 1))
		}, 0, FailHeaderMalformed, "AuthorizationHeaderMalformed"},
		{"host unsigned", func(f *Fields) {
			f.setHeader("Authorization", strings.Replace(authz, "SignedHeaders=host;", "SignedHeaders=", 1))
		}, 0, FailUnsignedHeaders, "AccessDenied"},
		{"missing signature", func(f *Fields) {
			f.setHeader("Authorization", authz[:strings.Index(authz, ", Signature=")])
		}, 0, FailHeaderMalformed, "AuthorizationHeaderMalformed"},
		{"sigv2", func(f *Fields) { f.setHeader("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=") }, 0, FailUnsupportedAuth, "InvalidRequest"},
		{"no x-amz-content-sha256", func(f *Fields) {
			for i := range f.Headers {
				if strings.EqualFold(string(f.Headers[i].Name), "x-amz-content-sha256") {
					f.Headers[i].Name = []byte("x-other")
				}
			}
		}, 0, FailMissingContentSHA256, "InvalidRequest"},
		{"bad x-amz-content-sha256", func(f *Fields) { f.setHeader("X-Amz-Content-Sha256", "abc") }, 0, FailBadContentSHA256, "InvalidArgument"},
		{"no date", func(f *Fields) {
			for i := range f.Headers {
				if strings.EqualFold(string(f.Headers[i].Name), "x-amz-date") {
					f.Headers[i].Name = []byte("x-other-date")
				}
			}
		}, 0, FailMissingDate, "AccessDenied"},
		{"clock 16 minutes ahead", func(*Fields) {}, 16 * time.Minute, FailTimeSkewed, "RequestTimeTooSkewed"},
		{"clock 16 minutes behind", func(*Fields) {}, -16 * time.Minute, FailTimeSkewed, "RequestTimeTooSkewed"},
		{"both auth forms", func(f *Fields) { f.Query = append(f.Query, "&X-Amz-Algorithm=AWS4-HMAC-SHA256"...) }, 0, FailMultipleAuth, "InvalidArgument"},
		{"no auth", func(f *Fields) {
			for i := range f.Headers {
				if strings.EqualFold(string(f.Headers[i].Name), "authorization") {
					f.Headers[i].Name = []byte("x-authorization")
				}
			}
		}, 0, FailMissingAuth, "AccessDenied"},
		{"bad escape in path", func(f *Fields) { f.Path = []byte("/bucket/%zz") }, 0, FailInvalidURI, "InvalidURI"},
	}
	clock := now
	v := newTestVerifier(t, &clock, 0)
	if _, err := v.Verify(base); err != nil {
		t.Fatalf("unmodified request: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock = now.Add(tc.clock)
			f := base.clone()
			tc.mutate(f)
			_, err := v.Verify(f)
			e := wantFailure(t, err, tc.fail, tc.code)
			if tc.fail == FailWrongRegion && (e.Message != "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'" || e.Extra[0] != [2]string{"Region", "us-east-1"}) {
				t.Fatalf("region error %+v", e)
			}
			if tc.name == "unsigned x-amz header" && e.Extra[0] != [2]string{"HeadersNotSigned", "x-amz-meta-extra"} {
				t.Fatalf("unsigned headers error %+v", e)
			}
		})
	}
	clock = now.Add(14 * time.Minute)
	if _, err := v.Verify(base); err != nil {
		t.Fatalf("14 minutes of skew must pass: %v", err)
	}
}

func presign(t testing.TB, r *http.Request, at time.Time, expires time.Duration, creds aws.Credentials) *http.Request {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := s.PresignHTTP(context.Background(), creds, r, unsignedPayload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	out := r.Clone(context.Background())
	out.URL = u
	return out
}

// TestSDKPresignedRequests presigns with the SDK's PresignHTTP and verifies, then checks
// expiry and the presigned-specific errors.
func TestSDKPresignedRequests(t *testing.T) {
	signedAt := docTime.Add(5 * time.Hour)
	clock := signedAt.Add(time.Minute)
	v := newTestVerifier(t, &clock, 0)
	for _, key := range awkwardKeys {
		for _, method := range []string{"GET", "PUT"} {
			t.Run(method+" "+key, func(t *testing.T) {
				clock = signedAt.Add(time.Minute)
				r := sdkRequest(t, method, key, "response-content-type=text%2Fplain")
				if method == "PUT" {
					r.Header.Set("Content-Type", "application/octet-stream")
					r.Header.Set("X-Amz-Meta-Owner", "me") // hoisted into the query by the SDK
				}
				creds := docCreds
				creds.SessionToken = "token/with+chars="
				p := presign(t, r, signedAt, time.Hour, creds)
				f := fieldsFromHTTP(p)
				a, err := v.Verify(f)
				if err != nil {
					t.Fatalf("Verify: %v\n%s?%s", err, f.Path, f.Query)
				}
				if !a.Presigned || a.Payload != PayloadUnsigned || string(a.SecurityToken) != creds.SessionToken {
					t.Fatalf("auth = %+v", a)
				}
				clock = signedAt.Add(time.Hour)
				_, err = v.Verify(f)
				wantFailure(t, err, FailExpired, "AccessDenied")
				clock = signedAt.Add(-16 * time.Minute)
				_, err = v.Verify(f)
				wantFailure(t, err, FailNotYetValid, "AccessDenied")
			})
		}
	}

	clock = signedAt.Add(time.Minute)
	p := presign(t, sdkRequest(t, "GET", "k", ""), signedAt, 7*24*time.Hour, docCreds)
	base := fieldsFromHTTP(p)
	if _, err := v.Verify(base); err != nil {
		t.Fatalf("7-day URL: %v", err)
	}
	replaceQuery := func(old, new string) func(*Fields) {
		return func(f *Fields) { f.Query = []byte(strings.Replace(string(f.Query), old, new, 1)) }
	}
	tests := []struct {
		name   string
		mutate func(*Fields)
		fail   Failure
		code   string
		msg    string
	}{
		{"expires too long", replaceQuery("X-Amz-Expires=604800", "X-Amz-Expires=604801"), FailQueryMalformed, "AuthorizationQueryParametersError",
			"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{"expires negative", replaceQuery("X-Amz-Expires=604800", "X-Amz-Expires=-1"), FailQueryMalformed, "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative"},
		{"expires not a number", replaceQuery("X-Amz-Expires=604800", "X-Amz-Expires=1h"), FailQueryMalformed, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number"},
		{"expires zero", replaceQuery("X-Amz-Expires=604800", "X-Amz-Expires=0"), FailExpired, "AccessDenied", "Request has expired"},
		{"expires changed", replaceQuery("X-Amz-Expires=604800", "X-Amz-Expires=604799"), FailSignatureMismatch, "SignatureDoesNotMatch", ""},
		{"missing signed headers", replaceQuery("X-Amz-SignedHeaders=host", "X-Amz-Signedheaders=host"), FailQueryMalformed, "AuthorizationQueryParametersError",
			"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."},
		{"algorithm", replaceQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"), FailQueryMalformed, "AuthorizationQueryParametersError", `X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`},
		{"region", replaceQuery("us-east-1", "us-west-2"), FailQueryWrongRegion, "AuthorizationQueryParametersError",
			"Error parsing the X-Amz-Credential parameter; the region 'us-west-2' is wrong; expecting 'us-east-1'"},
		{"date format", replaceQuery("X-Amz-Date=20130524T050000Z", "X-Amz-Date=2013-05-24T05:00:00Z"), FailQueryMalformed, "AuthorizationQueryParametersError",
			`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`},
		{"credential date", replaceQuery("%2F20130524%2F", "%2F20130523%2F"), FailQueryMalformed, "AuthorizationQueryParametersError",
			`Invalid credential date "20130523". This date is not the same as X-Amz-Date: "20130524".`},
		{"unknown key", replaceQuery(docAccessKey, "AKIAOTHER"), FailUnknownAccessKey, "InvalidAccessKeyId", ""},
		{"signature", func(f *Fields) { f.Query = append(f.Query[:len(f.Query)-1], '0') }, FailSignatureMismatch, "SignatureDoesNotMatch", ""},
		{"path", func(f *Fields) { f.Path = []byte("/bucket/other") }, FailSignatureMismatch, "SignatureDoesNotMatch", ""},
		{"extra param", func(f *Fields) { f.Query = append(f.Query, "&acl="...) }, FailSignatureMismatch, "SignatureDoesNotMatch", ""},
		{"unsigned x-amz header", func(f *Fields) { f.setHeader("x-amz-acl", "public-read") }, FailUnsignedHeaders, "AccessDenied", ""},
		{"sigv2 query", func(f *Fields) { f.Query = []byte("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=x") }, FailUnsupportedAuth, "InvalidRequest", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base.clone()
			tc.mutate(f)
			_, err := v.Verify(f)
			e := wantFailure(t, err, tc.fail, tc.code)
			if tc.msg != "" && e.Message != tc.msg {
				t.Fatalf("message %q, want %q", e.Message, tc.msg)
			}
		})
	}
}
