package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

// testS3 is a tiny in-memory S3 behind the net/http adapter: enough of PutObject,
// GetObject, CreateMultipartUpload and UploadPart for real clients to exercise every
// authentication and payload form. It stores nothing unless the body verified.
type testS3 struct {
	v *Verifier

	mu       sync.Mutex // guards objects, sums, payloads
	objects  map[string][]byte
	sums     map[string]checksum.Value
	payloads []Payload // payload mode of every verified write, in order
}

func newTestS3(t *testing.T, tls bool) (*testS3, *httptest.Server) {
	t.Helper()
	v, err := New(Config{Credentials: StaticCredentials{docAccessKey: docSecret}})
	if err != nil {
		t.Fatal(err)
	}
	s := &testS3{v: v, objects: map[string][]byte{}, sums: map[string]checksum.Value{}}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(s)
	} else {
		srv = httptest.NewServer(s)
	}
	t.Cleanup(srv.Close)
	return s, srv
}

func writeS3Error(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "InternalError", Status: http.StatusInternalServerError, Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	var extra strings.Builder
	for _, kv := range e.Extra {
		extra.WriteString("<" + kv[0] + ">")
		xml.EscapeText(&extra, []byte(kv[1]))
		extra.WriteString("</" + kv[0] + ">")
	}
	var msg strings.Builder
	xml.EscapeText(&msg, []byte(e.Message))
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+e.Code+`</Code><Message>`+msg.String()+`</Message>`+extra.String()+`<RequestId>test</RequestId></Error>`)
}

func (s *testS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := HTTPRequest{R: r}
	a, err := s.v.Verify(req)
	if err != nil {
		writeS3Error(w, err)
		return
	}
	key := r.URL.Path
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		io.WriteString(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		if q.Has("partNumber") {
			key += "#part" + q.Get("partNumber")
		}
		body, err := s.v.Body(req, &a, r.Body, BodyOptions{Compute: checksum.CRC64NVME})
		if err != nil {
			writeS3Error(w, err)
			return
		}
		data, err := io.ReadAll(body)
		if err != nil {
			writeS3Error(w, err)
			return
		}
		sum, _ := body.Checksum()
		s.mu.Lock()
		s.objects[key] = data
		s.sums[key] = sum
		s.payloads = append(s.payloads, a.Payload)
		s.mu.Unlock()
		etag := md5.Sum(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(etag[:])+`"`)
		if !sum.IsZero() {
			w.Header().Set(sum.Algorithm.HeaderName(), sum.Base64())
		}
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.mu.Lock()
		data, ok := s.objects[key]
		sum := s.sums[key]
		s.mu.Unlock()
		if !ok {
			writeS3Error(w, &Error{Code: "NoSuchKey", Status: http.StatusNotFound, Message: "The specified key does not exist."})
			return
		}
		etag := md5.Sum(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(etag[:])+`"`)
		w.Header().Set("Last-Modified", "Fri, 24 May 2013 00:00:00 GMT")
		if r.Header.Get("x-amz-checksum-mode") == "ENABLED" && !sum.IsZero() {
			w.Header().Set(sum.Algorithm.HeaderName(), sum.Base64())
		}
		w.Write(data)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

func (s *testS3) object(key string) ([]byte, checksum.Value, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.objects[key]
	return d, s.sums[key], ok
}

func (s *testS3) lastPayload() Payload {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.payloads) == 0 {
		return 0
	}
	return s.payloads[len(s.payloads)-1]
}

func sdkClient(srv *httptest.Server, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(docAccessKey, secret, ""),
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		HTTPClient:   srv.Client(),
		// What config.LoadDefaultConfig gives current SDKs: checksums on every upload.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

func testPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// apiErrorCode returns the S3 error code the SDK surfaced.
func apiErrorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an S3 API error", err)
	}
	return ae.ErrorCode()
}

// TestAWSSDKClient drives the real aws-sdk-go-v2 S3 client. Over TLS the SDK sends its
// default trailing checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER); over plain HTTP it signs
// the body's SHA-256 and sends the checksum as a header.
func TestAWSSDKClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tls := range []bool{true, false} {
		name := map[bool]string{true: "https", false: "http"}[tls]
		t.Run(name, func(t *testing.T) {
			store, srv := newTestS3(t, tls)
			client := sdkClient(srv, docSecret)
			algs := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
			for i, alg := range algs {
				key := "obj " + string(alg) + "+ü"
				data := testPayload(100_000 + i*777)
				_, err := client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg,
				})
				if err != nil {
					t.Fatalf("PutObject %s: %v", alg, err)
				}
				got, sum, ok := store.object("/bucket/" + key)
				if !ok || !bytes.Equal(got, data) {
					t.Fatalf("PutObject %s: stored %d bytes, want %d", alg, len(got), len(data))
				}
				wantAlg := checksum.CRC32 // the SDK's default
				if alg != "" {
					wantAlg, _ = checksum.ParseAlgorithm([]byte(alg))
				}
				if sum.Algorithm != wantAlg {
					t.Fatalf("stored checksum %v, want %v", sum, wantAlg)
				}
				wantPayload := PayloadStreamingUnsignedTrailer
				if !tls {
					wantPayload = PayloadSHA256
				}
				if p := store.lastPayload(); p != wantPayload {
					t.Fatalf("payload mode %v, want %v", p, wantPayload)
				}
				out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				back, err := io.ReadAll(out.Body) // the SDK validates the returned checksum
				out.Body.Close()
				if err != nil || !bytes.Equal(back, data) {
					t.Fatalf("GetObject body: %v", err)
				}
			}

			// Multipart: the SDK sends UploadPart with the algorithm CreateMultipartUpload named.
			if _, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			part := testPayload(5 << 20)
			if _, err := client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String("bucket"), Key: aws.String("mp"), UploadId: aws.String("upload-1"), PartNumber: aws.Int32(1),
				Body: bytes.NewReader(part), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
			}); err != nil {
				t.Fatalf("UploadPart: %v", err)
			}
			if got, sum, _ := store.object("/bucket/mp#part1"); !bytes.Equal(got, part) || sum.Algorithm != checksum.SHA256 {
				t.Fatalf("UploadPart stored %d bytes, checksum %v", len(got), sum)
			}

			// A wrong checksum given by the caller travels as a header: BadDigest.
			_, err := client.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String("bad"), Body: strings.NewReader("hello world"), ChecksumCRC32: aws.String("AAAAAA=="),
			})
			if code := apiErrorCode(t, err); code != "BadDigest" {
				t.Fatalf("wrong checksum: %s", code)
			}
			if _, _, ok := store.object("/bucket/bad"); ok {
				t.Fatal("an object with a bad checksum was stored")
			}
			// A wrong secret: SignatureDoesNotMatch.
			_, err = sdkClient(srv, "wrong-secret").GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("mp")})
			if code := apiErrorCode(t, err); code != "SignatureDoesNotMatch" {
				t.Fatalf("wrong secret: %s", code)
			}
		})
	}
}

// TestAWSSDKPresigned presigns GET and PUT with the SDK's presign client and uses the URLs
// with a plain HTTP client, as a browser or curl would.
func TestAWSSDKPresigned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, srv := newTestS3(t, true)
	presigner := s3.NewPresignClient(sdkClient(srv, docSecret))
	data := testPayload(12345)

	put, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %s", resp.Status)
	}
	if got, _, _ := store.object("/bucket/pre signed/ü"); !bytes.Equal(got, data) || store.lastPayload() != PayloadUnsigned {
		t.Fatalf("presigned PUT stored %d bytes as %v", len(got), store.lastPayload())
	}

	get, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(back, data) {
		t.Fatalf("presigned GET: %s, %d bytes", resp.Status, len(back))
	}

	// Tampering with the URL is an S3 error document.
	resp, err = srv.Client().Get(strings.Replace(get.URL, "X-Amz-Expires=900", "X-Amz-Expires=901", 1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Fatalf("tampered URL: %s %s", resp.Status, body)
	}
}
