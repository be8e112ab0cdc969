package s3frontend_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// preflight sends an unsigned OPTIONS request, as a browser does.
func preflight(t *testing.T, e *env, path string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req := newRequest(t, "OPTIONS", e.url+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r := e.do(req, false)
	return r.status, r.header, r.err.Code
}

// TestSDKCORS: the CORS configuration is stored and read back, and decides preflight
// OPTIONS requests and the Access-Control-* headers of actual requests.
func TestSDKCORS(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "cors")
		putString(t, c, "cors", "k", "x")
		_, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("cors")})
		wantCode(t, "GetBucketCors without one", err, "NoSuchCORSConfiguration")
		status, _, code := preflight(t, e, "/cors/k", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
		if status != 403 || code != "AccessForbidden" {
			t.Fatalf("preflight without a configuration: %d %s", status, code)
		}

		rules := []types.CORSRule{
			{ID: aws.String("app"), AllowedOrigins: []string{"https://*.example"}, AllowedMethods: []string{"GET", "PUT"},
				AllowedHeaders: []string{"x-amz-*", "Content-Type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)},
			{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}},
		}
		_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("cors"), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
		mustOK(t, "PutBucketCors", err)
		got, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("cors")})
		mustOK(t, "GetBucketCors", err)
		if len(got.CORSRules) != 2 || aws.ToString(got.CORSRules[0].ID) != "app" || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 ||
			strings.Join(got.CORSRules[0].AllowedHeaders, ",") != "x-amz-*,Content-Type" || got.CORSRules[1].AllowedOrigins[0] != "*" {
			t.Fatalf("GetBucketCors: %+v", got.CORSRules)
		}

		status, hdr, code := preflight(t, e, "/cors/k?uploadId=u&partNumber=1", map[string]string{"Origin": "https://app.example",
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "X-Amz-Date, content-type"})
		if status != 200 || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" || hdr.Get("Access-Control-Allow-Methods") != "GET, PUT" ||
			hdr.Get("Access-Control-Allow-Headers") != "X-Amz-Date, content-type" || hdr.Get("Access-Control-Max-Age") != "600" ||
			hdr.Get("Access-Control-Expose-Headers") != "ETag" || hdr.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(hdr.Get("Vary"), "Origin") {
			t.Fatalf("matching preflight: %d %s %v", status, code, hdr)
		}
		status, hdr, _ = preflight(t, e, "/cors", map[string]string{"Origin": "http://anything", "Access-Control-Request-Method": "HEAD"})
		if status != 200 || hdr.Get("Access-Control-Allow-Origin") != "*" || hdr.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight of the any-origin rule: %d %v", status, hdr)
		}
		for _, tc := range []struct {
			name   string
			hdr    map[string]string
			status int
			code   string
		}{
			{"other origin", map[string]string{"Origin": "https://app.example.org", "Access-Control-Request-Method": "GET"}, 403, "AccessForbidden"},
			{"method not allowed", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}, 403, "AccessForbidden"},
			{"header not allowed", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-custom"}, 403, "AccessForbidden"},
			{"no origin", map[string]string{"Access-Control-Request-Method": "GET"}, 400, "BadRequest"},
			{"no method", map[string]string{"Origin": "https://app.example"}, 400, "BadRequest"},
		} {
			if status, _, code := preflight(t, e, "/cors/k", tc.hdr); status != tc.status || code != tc.code {
				t.Errorf("preflight, %s: %d %s, want %d %s", tc.name, status, code, tc.status, tc.code)
			}
		}
		if status, _, code := preflight(t, e, "/nobucket/k", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}); status != 404 || code != "NoSuchBucket" {
			t.Errorf("preflight on a missing bucket: %d %s", status, code)
		}

		actual := func(origin string) http.Header {
			t.Helper()
			req := newRequest(t, "GET", e.url+"/cors/k", nil)
			req.Header.Set("Origin", origin)
			r := e.do(req, true)
			if r.status != 200 {
				t.Fatalf("GET with Origin %s: %d %s", origin, r.status, r.err.Code)
			}
			return r.header
		}
		if h := actual("https://www.example"); h.Get("Access-Control-Allow-Origin") != "https://www.example" || h.Get("Access-Control-Expose-Headers") != "ETag" || !strings.Contains(h.Get("Vary"), "Origin") {
			t.Fatalf("actual GET from an allowed origin: %v", h)
		}
		if h := actual("https://evil.test"); h.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(h.Get("Vary"), "Origin") {
			t.Fatalf("actual GET from another origin: %v", h)
		}

		for doc, code := range map[string]string{
			"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>": "InvalidRequest",
			"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>":                                     "MalformedXML",
			"<CORSConfiguration/>": "MalformedXML",
		} {
			r := e.do(newRequest(t, "PUT", e.url+"/cors?cors", []byte(doc)), true)
			if r.status != 400 || r.err.Code != code {
				t.Errorf("PutBucketCors %s: %d %s, want %s", doc, r.status, r.err.Code, code)
			}
		}
		_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("nobucket"), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
		wantCode(t, "PutBucketCors of a missing bucket", err, "NoSuchBucket")

		_, err = c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("cors")})
		mustOK(t, "DeleteBucketCors", err)
		_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("cors")})
		wantCode(t, "GetBucketCors after delete", err, "NoSuchCORSConfiguration")
		if status, _, _ := preflight(t, e, "/cors/k", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}); status != 403 {
			t.Fatalf("preflight after DeleteBucketCors: %d", status)
		}
	})
}

// TestCLICORS sets and reads a CORS configuration with the aws CLI.
func TestCLICORS(t *testing.T) {
	e := start(t, "epoll")
	run, try := awsCLI(t, e)
	run("s3api", "create-bucket", "--bucket", "cli-cors")
	if _, errOut, ok := try("s3api", "get-bucket-cors", "--bucket", "cli-cors"); ok || !strings.Contains(errOut, "NoSuchCORSConfiguration") {
		t.Fatalf("get-bucket-cors without one: ok %v, %s", ok, errOut)
	}
	file := filepath.Join(t.TempDir(), "cors.json")
	writeFile(t, file, `{"CORSRules":[{"AllowedOrigins":["https://app.example"],"AllowedMethods":["GET","PUT"],"AllowedHeaders":["*"],"MaxAgeSeconds":30}]}`)
	run("s3api", "put-bucket-cors", "--bucket", "cli-cors", "--cors-configuration", "file://"+file)
	if out := run("s3api", "get-bucket-cors", "--bucket", "cli-cors"); !strings.Contains(out, "https://app.example") || !strings.Contains(out, `"MaxAgeSeconds": 30`) {
		t.Fatalf("get-bucket-cors: %s", out)
	}
	run("s3api", "delete-bucket-cors", "--bucket", "cli-cors")
}
