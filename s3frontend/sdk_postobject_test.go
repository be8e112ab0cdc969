package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

// postForm sends a browser-style form upload: fields in a stable order, then the file
// part named filename (none when file is nil). It returns the status, the body and the
// response.
func postForm(t *testing.T, url string, fields map[string]string, filename string, file []byte) (int, string, *http.Response) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := mw.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, url, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// signPolicy builds and signs a policy document for key and secret, as a browser page's
// server would (the SDKs' code, written out).
func signPolicy(key, secret string, expires time.Time, conditions ...any) map[string]string {
	now := time.Now().UTC()
	date := now.Format("20060102")
	cred := key + "/" + date + "/" + testRegion + "/s3/aws4_request"
	amzDate := now.Format("20060102T150405Z")
	conds := append([]any{map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, map[string]string{"x-amz-credential": cred},
		map[string]string{"x-amz-date": amzDate}}, conditions...)
	doc, _ := jsonMarshal(map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	pol := base64.StdEncoding.EncodeToString(doc)
	mac := func(k []byte, m string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(m)); return h.Sum(nil) }
	k := mac(mac(mac(mac([]byte("AWS4"+secret), date), testRegion), "s3"), "aws4_request")
	return map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": cred, "x-amz-date": amzDate,
		"policy": pol, "x-amz-signature": hex.EncodeToString(mac(k, pol))}
}

// TestSDKPostObject: browser form uploads signed by aws-sdk-go-v2's PresignPostObject and
// minio-go's PresignedPostPolicy store the file with its metadata and answer as S3 does
// (204, 201 with a PostResponse, 303 to success_action_redirect); the policy's conditions
// are enforced with S3's errors, and nothing is stored when they fail.
func TestSDKPostObject(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "forms")
		bucketURL := e.url + "/forms"
		mustGet := func(key, want string) *s3.GetObjectOutput {
			t.Helper()
			got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String(key)})
			if string(got) != want {
				t.Fatalf("GET %s: %q, want %q", key, got, want)
			}
			return out
		}
		mustMissing := func(what, key string) {
			t.Helper()
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String(key)})
			if err == nil {
				t.Fatalf("%s: %s was stored", what, key)
			}
		}

		// aws-sdk-go-v2: a key prefix with ${filename}, a length range, a content type.
		pc := s3.NewPresignClient(c)
		pp, err := pc.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/${filename}")},
			func(o *s3.PresignPostOptions) {
				o.Expires = 5 * time.Minute
				o.Conditions = []any{[]any{"starts-with", "$key", "uploads/"}, []any{"content-length-range", 1, 1000},
					[]any{"starts-with", "$Content-Type", "image/"}, map[string]string{"success_action_status": "201"}}
			})
		mustOK(t, "PresignPostObject", err)
		fields := map[string]string{}
		for k, v := range pp.Values {
			fields[k] = v
		}
		fields["Content-Type"] = "image/png"
		fields["success_action_status"] = "201"
		status, body, resp := postForm(t, pp.URL, fields, "photo.png", []byte("png bytes"))
		if status != http.StatusCreated {
			t.Fatalf("SDK form POST: %d %s", status, body)
		}
		var pr struct {
			Bucket, Key, ETag, Location string
		}
		if err := xml.Unmarshal([]byte(body), &pr); err != nil || pr.Bucket != "forms" || pr.Key != "uploads/photo.png" ||
			pr.ETag != resp.Header.Get("ETag") || pr.ETag == "" || !strings.HasSuffix(pr.Location, "/forms/uploads/photo.png") {
			t.Fatalf("PostResponse %+v (%v) from %s", pr, err, body)
		}
		if out := mustGet("uploads/photo.png", "png bytes"); aws.ToString(out.ContentType) != "image/png" {
			t.Errorf("Content-Type %q", aws.ToString(out.ContentType))
		}

		// The same signed form, against its conditions.
		for _, tc := range []struct {
			name     string
			change   func(map[string]string)
			file     []byte
			code     string
			status   int
			contains string
		}{
			{"file over the range", nil, bytes.Repeat([]byte("x"), 1001), "EntityTooLarge", 400, ""},
			{"empty file under the range", nil, []byte{}, "EntityTooSmall", 400, ""},
			{"content type outside the condition", func(f map[string]string) { f["Content-Type"] = "text/plain" }, []byte("x"), "AccessDenied", 403, "Policy Condition failed"},
			{"a field the policy does not name", func(f map[string]string) { f["x-amz-meta-extra"] = "1" }, []byte("x"), "AccessDenied", 403, "Extra input fields: x-amz-meta-extra"},
			{"key outside the prefix", func(f map[string]string) { f["key"] = "elsewhere/${filename}" }, []byte("x"), "AccessDenied", 403, "Policy Condition failed"},
			{"tampered policy", func(f map[string]string) {
				f["policy"] = base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2099-01-01T00:00:00Z","conditions":[]}`))
			}, []byte("x"), "SignatureDoesNotMatch", 403, ""},
			{"no key field", func(f map[string]string) { delete(f, "key") }, []byte("x"), "InvalidArgument", 400, "must contain a field named"},
			{"no file", nil, nil, "InvalidArgument", 400, "exactly one file"},
		} {
			f := map[string]string{}
			for k, v := range fields {
				f[k] = v
			}
			if tc.change != nil {
				tc.change(f)
			}
			status, body, _ := postForm(t, pp.URL, f, "bad.png", tc.file)
			if status != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, tc.contains) {
				t.Errorf("%s: %d %s, want %d %s %q", tc.name, status, body, tc.status, tc.code, tc.contains)
			}
			mustMissing(tc.name, "uploads/bad.png")
			mustMissing(tc.name, "elsewhere/bad.png")
		}

		// minio-go: an exact key, user metadata, the default 204, then a redirect.
		p := minio.NewPostPolicy()
		mustOK(t, "SetBucket", p.SetBucket("forms"))
		mustOK(t, "SetKey", p.SetKey("docs/report.txt"))
		mustOK(t, "SetExpires", p.SetExpires(time.Now().Add(time.Hour)))
		mustOK(t, "SetContentLengthRange", p.SetContentLengthRange(1, 1<<20))
		mustOK(t, "SetUserMetadata", p.SetUserMetadata("color", "blue"))
		u, formData, err := e.minio().PresignedPostPolicy(ctx, p)
		mustOK(t, "PresignedPostPolicy", err)
		status, body, _ = postForm(t, u.String(), formData, "report.txt", []byte("quarterly"))
		if status != http.StatusNoContent {
			t.Fatalf("minio-go form POST: %d %s", status, body)
		}
		if out := mustGet("docs/report.txt", "quarterly"); out.Metadata["color"] != "blue" {
			t.Errorf("metadata %v", out.Metadata)
		}
		p.SetSuccessActionRedirect("https://example.com/done?x=1")
		u, formData, err = e.minio().PresignedPostPolicy(ctx, p)
		mustOK(t, "PresignedPostPolicy with a redirect", err)
		status, body, resp = postForm(t, u.String(), formData, "report.txt", []byte("second"))
		loc := resp.Header.Get("Location")
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://example.com/done?") || !strings.Contains(loc, "key=docs%2Freport.txt") ||
			!strings.Contains(loc, "bucket=forms") || !strings.Contains(loc, "etag=") {
			t.Fatalf("redirect: %d %s Location %q", status, body, loc)
		}
		mustGet("docs/report.txt", "second")

		// A policy past its expiration; a request that is not a form; an unsigned form.
		expired := signPolicy(testAccessKey, testSecretKey, time.Now().Add(-time.Minute), map[string]string{"bucket": "forms"}, map[string]string{"key": "late"})
		expired["key"] = "late"
		status, body, _ = postForm(t, bucketURL, expired, "f", []byte("x"))
		if status != 403 || !strings.Contains(body, "Invalid according to Policy: Policy expired.") {
			t.Errorf("expired policy: %d %s", status, body)
		}
		mustMissing("expired policy", "late")
		req, _ := http.NewRequest(http.MethodPost, bucketURL, strings.NewReader("key=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r, err := http.DefaultClient.Do(req)
		mustOK(t, "urlencoded POST", err)
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(b), "multipart/form-data") {
			t.Errorf("urlencoded POST: %d %s", r.StatusCode, b)
		}
		status, body, _ = postForm(t, bucketURL, map[string]string{"key": "anon"}, "f", []byte("x"))
		if status != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
			t.Errorf("anonymous form: %d %s", status, body)
		}
		mustMissing("anonymous form", "anon")
	})
}

// TestIAMPostObject: a form upload runs as the policy's signer, whose IAM policies must
// allow s3:PutObject on the key.
func TestIAMPostObject(t *testing.T) {
	e := startIAM(t, transports[0])
	ctx := context.Background()
	root := e.s3As(testAccessKey, testSecretKey, "", nil)
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("team")})
	mustOK(t, "CreateBucket", err)
	key, secret := e.newUser(t, "alice", homePolicy)
	for _, tc := range []struct {
		key    string
		status int
	}{{"home/alice/form", 204}, {"home/bob/form", 403}} {
		f := signPolicy(key, secret, time.Now().Add(time.Hour), map[string]string{"bucket": "team"}, map[string]string{"key": tc.key})
		f["key"] = tc.key
		status, body, _ := postForm(t, e.url+"/team", f, "f", []byte("by alice"))
		if status != tc.status {
			t.Errorf("alice's form to %s: %d %s, want %d", tc.key, status, body, tc.status)
		}
	}
	if got, err := get(root, "team", "home/alice/form"); err != nil || got != "by alice" {
		t.Errorf("alice's upload: %q %v", got, err)
	}
	if _, err := get(root, "team", "home/bob/form"); err == nil {
		t.Error("the denied upload was stored")
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
