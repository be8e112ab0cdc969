package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestOtherServices: an IAM or STS query signed by the SDK for its own service verifies
// when the endpoint serves that service, and Auth.Service says which; an endpoint that
// serves S3 only refuses the scope as S3 does.
func TestOtherServices(t *testing.T) {
	now := docTime.Add(3 * time.Hour)
	body := "Action=ListUsers&Version=2010-05-08"
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	for _, service := range []string{"iam", "sts", "s3"} {
		r, err := http.NewRequest("POST", "https://s3.example.test/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		r.Header.Set("X-Amz-Content-Sha256", payload)
		if err := v4.NewSigner().SignHTTP(context.Background(), docCreds, r, payload, service, "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		v, err := New(Config{Credentials: StaticCredentials{docAccessKey: docSecret}, Now: func() time.Time { return now }, Services: []string{"iam", "sts"}})
		if err != nil {
			t.Fatal(err)
		}
		f := fieldsFromHTTP(r)
		// The transport sends the length the signer signed from the request's field.
		f.setHeader("Content-Length", "35")
		a, err := v.Verify(f)
		if err != nil {
			t.Fatalf("%s: Verify: %v", service, err)
		}
		if a.Service != service {
			t.Fatalf("Auth.Service = %q, want %q", a.Service, service)
		}
		if service == "s3" {
			continue
		}
		s3only := newTestVerifier(t, &now, 0)
		_, err = s3only.Verify(f)
		wantFailure(t, err, FailHeaderMalformed, "AuthorizationHeaderMalformed")
	}
}

// hashed is a Fields whose body the caller hashed (PayloadHasher).
type hashed struct {
	*Fields
	sum string
}

func (h hashed) PayloadSHA256() ([]byte, bool) { return []byte(h.sum), true }

// TestFormWithoutContentSHA: the aws CLI and boto3 sign an IAM form without
// x-amz-content-sha256; the body's hash comes from the caller, and a body that is not
// the one signed fails the signature.
func TestFormWithoutContentSHA(t *testing.T) {
	now := docTime.Add(3 * time.Hour)
	body := "Action=CreateUser&UserName=alice&Version=2010-05-08"
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	r, err := http.NewRequest("POST", "https://s3.example.test/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := v4.NewSigner().SignHTTP(context.Background(), docCreds, r, payload, "iam", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	f := fieldsFromHTTP(r)
	f.setHeader("Content-Length", "51")
	v, err := New(Config{Credentials: StaticCredentials{docAccessKey: docSecret}, Now: func() time.Time { return now }, Services: []string{"iam"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f); err == nil {
		t.Fatal("verified without any payload hash")
	}
	if _, err := v.Verify(hashed{f, payload}); err != nil {
		t.Fatalf("with the caller's hash: %v", err)
	}
	other := sha256.Sum256([]byte(body + "&Path=/x/"))
	_, err = v.Verify(hashed{f, hex.EncodeToString(other[:])})
	wantFailure(t, err, FailSignatureMismatch, "SignatureDoesNotMatch")
	f.setHeader("X-Amz-Content-Sha256", hex.EncodeToString(other[:]))
	_, err = v.Verify(hashed{f, payload})
	wantFailure(t, err, FailContentSHA256Mismatch, "XAmzContentSHA256Mismatch")
}
