package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

func TestSDKPutGetHead(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "objs")
		data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
		expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		put, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:             aws.String("objs"),
			Key:                aws.String("dir/file.txt"),
			Body:               bytes.NewReader(data),
			ContentType:        aws.String("text/plain"),
			ContentEncoding:    aws.String("identity"),
			ContentDisposition: aws.String(`attachment; filename="f.txt"`),
			ContentLanguage:    aws.String("fr"),
			CacheControl:       aws.String("max-age=60"),
			Expires:            aws.Time(expires),
			Metadata:           map[string]string{"color": "blue", "Mixed-Case": "Value"},
		})
		mustOK(t, "PutObject", err)
		sum := md5.Sum(data)
		wantETag := `"` + hex.EncodeToString(sum[:]) + `"`
		if aws.ToString(put.ETag) != wantETag {
			t.Fatalf("PutObject ETag %s, want %s", aws.ToString(put.ETag), wantETag)
		}

		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")})
		mustOK(t, "HeadObject", err)
		checks := []struct{ name, got, want string }{
			{"ETag", aws.ToString(head.ETag), wantETag},
			{"Content-Type", aws.ToString(head.ContentType), "text/plain"},
			{"Content-Encoding", aws.ToString(head.ContentEncoding), "identity"},
			{"Content-Disposition", aws.ToString(head.ContentDisposition), `attachment; filename="f.txt"`},
			{"Content-Language", aws.ToString(head.ContentLanguage), "fr"},
			{"Cache-Control", aws.ToString(head.CacheControl), "max-age=60"},
			{"x-amz-meta-color", head.Metadata["color"], "blue"},
			{"x-amz-meta-mixed-case", head.Metadata["mixed-case"], "Value"},
			{"Accept-Ranges", aws.ToString(head.AcceptRanges), "bytes"},
		}
		for _, ck := range checks {
			if ck.got != ck.want {
				t.Errorf("HeadObject %s = %q, want %q", ck.name, ck.got, ck.want)
			}
		}
		if aws.ToInt64(head.ContentLength) != int64(len(data)) {
			t.Errorf("HeadObject Content-Length %d, want %d", aws.ToInt64(head.ContentLength), len(data))
		}
		if head.ExpiresString == nil || *head.ExpiresString != expires.Format(time.RFC1123Z) && !strings.Contains(*head.ExpiresString, "2030") {
			t.Errorf("HeadObject Expires %v", head.ExpiresString)
		}
		if head.LastModified == nil || time.Since(*head.LastModified) > time.Minute {
			t.Errorf("HeadObject Last-Modified %v", head.LastModified)
		}

		got, get := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")})
		if !bytes.Equal(got, data) || aws.ToString(get.ETag) != wantETag || aws.ToString(get.ContentType) != "text/plain" {
			t.Fatalf("GetObject: %q etag %s type %s", got, aws.ToString(get.ETag), aws.ToString(get.ContentType))
		}

		// Empty object, default content type.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String("empty"), Body: bytes.NewReader(nil)})
		mustOK(t, "PutObject empty", err)
		got, get = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("empty")})
		if len(got) != 0 || aws.ToString(get.ContentType) != "application/octet-stream" { // the SDK's default
			t.Fatalf("empty object: %d bytes, type %q", len(got), aws.ToString(get.ContentType))
		}

		// Errors.
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("nope")})
		wantCode(t, "HeadObject missing", err, "NotFound")
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
		wantCode(t, "GetObject missing bucket", err, "NoSuchBucket")
		long := strings.Repeat("k", 1025)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String(long), Body: strings.NewReader("x")})
		wantCode(t, "PutObject 1025-byte key", err, "KeyTooLongError")
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String(long)})
		wantCode(t, "GetObject 1025-byte key", err, "KeyTooLongError")
		seg := strings.Repeat("s", 250) + "/"
		ok1024 := strings.Repeat(seg, 4) + strings.Repeat("t", 1024-4*len(seg))
		putString(t, c, "objs", ok1024, "max")
		if b, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String(ok1024)}); string(b) != "max" {
			t.Fatalf("1024-byte key read back %q", b)
		}
	})
}

func TestSDKAwkwardKeys(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		c := e.sdk()
		mkbucket(t, c, "keys")
		keys := []string{"a b", "a+b", "a%b", "ü/ñ/日本", "a//b", "/lead", "trail/", "../up", "./dot", "q?x=1&y", "semi;colon", "tab\tkey", "#hash", "~tilde", "*star", "'quote\""}
		for _, k := range keys {
			putString(t, c, "keys", k, "v:"+k)
		}
		for _, k := range keys {
			b, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)})
			if string(b) != "v:"+k {
				t.Errorf("key %q read back %q", k, b)
			}
		}
		out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("keys")})
		mustOK(t, "ListObjectsV2", err)
		if len(out.Contents) != len(keys) {
			t.Fatalf("listed %d keys, want %d", len(out.Contents), len(keys))
		}
	})
}

func TestSDKRanges(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "ranges")
		data := make([]byte, 300<<10) // above the inline limit: read through the decoder
		for i := range data {
			data[i] = byte(i * 7)
		}
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ranges"), Key: aws.String("obj"), Body: bytes.NewReader(data)})
		mustOK(t, "PutObject", err)
		n := int64(len(data))
		cases := []struct {
			rng        string
			off, len   int64
			contentRng string
		}{
			{"bytes=0-0", 0, 1, "bytes 0-0/307200"},
			{"bytes=10-19", 10, 10, "bytes 10-19/307200"},
			{"bytes=307190-", 307190, 10, "bytes 307190-307199/307200"},
			{"bytes=-5", n - 5, 5, "bytes 307195-307199/307200"},
			{"bytes=100000-999999999", 100000, n - 100000, "bytes 100000-307199/307200"},
			{"bytes=-999999999", 0, n, "bytes 0-307199/307200"},
		}
		for _, tc := range cases {
			b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("obj"), Range: aws.String(tc.rng)})
			if !bytes.Equal(b, data[tc.off:tc.off+tc.len]) {
				t.Errorf("%s: got %d bytes, want %d from %d", tc.rng, len(b), tc.len, tc.off)
			}
			if aws.ToString(out.ContentRange) != tc.contentRng {
				t.Errorf("%s: Content-Range %q, want %q", tc.rng, aws.ToString(out.ContentRange), tc.contentRng)
			}
			if aws.ToInt64(out.ContentLength) != tc.len {
				t.Errorf("%s: Content-Length %d, want %d", tc.rng, aws.ToInt64(out.ContentLength), tc.len)
			}
		}
		for _, bad := range []string{"bytes=307200-", "bytes=999999-1000000", "bytes=-0"} {
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("obj"), Range: aws.String(bad)})
			wantCode(t, "GetObject "+bad, err, "InvalidRange")
		}
		// Syntax S3 does not understand is ignored: the whole object comes back.
		for _, ignored := range []string{"bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=abc"} {
			b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("obj"), Range: aws.String(ignored)})
			if len(b) != len(data) || out.ContentRange != nil {
				t.Errorf("%s: %d bytes, Content-Range %v; want the whole object", ignored, len(b), out.ContentRange)
			}
		}
	})
}

func TestSDKConditionalRequests(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "cond")
		put := putString(t, c, "cond", "k", "hello")
		etag := aws.ToString(put.ETag)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})
		mustOK(t, "HeadObject", err)
		mod := *head.LastModified
		past, future := mod.Add(-time.Hour), mod.Add(time.Hour)
		cases := []struct {
			name string
			in   s3.GetObjectInput
			code string // "" for success
		}{
			{"If-Match ok", s3.GetObjectInput{IfMatch: aws.String(etag)}, ""},
			{"If-Match star", s3.GetObjectInput{IfMatch: aws.String("*")}, ""},
			{"If-Match wrong", s3.GetObjectInput{IfMatch: aws.String(`"0000"`)}, "PreconditionFailed"},
			{"If-None-Match same", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, "NotModified"},
			{"If-None-Match other", s3.GetObjectInput{IfNoneMatch: aws.String(`"0000"`)}, ""},
			{"If-Modified-Since past", s3.GetObjectInput{IfModifiedSince: aws.Time(past)}, ""},
			{"If-Modified-Since future", s3.GetObjectInput{IfModifiedSince: aws.Time(future)}, "NotModified"},
			{"If-Modified-Since exact", s3.GetObjectInput{IfModifiedSince: aws.Time(mod)}, "NotModified"},
			{"If-Unmodified-Since future", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(future)}, ""},
			{"If-Unmodified-Since past", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(past)}, "PreconditionFailed"},
			// RFC 9110 precedence: If-Match true makes If-Unmodified-Since irrelevant ...
			{"If-Match wins over If-Unmodified-Since", s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(past)}, ""},
			// ... and If-None-Match false makes If-Modified-Since irrelevant.
			{"If-None-Match wins over If-Modified-Since", s3.GetObjectInput{IfNoneMatch: aws.String(`"0000"`), IfModifiedSince: aws.Time(future)}, ""},
		}
		for _, tc := range cases {
			in := tc.in
			in.Bucket, in.Key = aws.String("cond"), aws.String("k")
			out, err := c.GetObject(ctx, &in)
			if tc.code == "" {
				mustOK(t, tc.name, err)
				out.Body.Close()
				continue
			}
			wantCode(t, tc.name, err, tc.code)
			hin := s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
				IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
			_, err = c.HeadObject(ctx, &hin)
			wantCode(t, tc.name+" (HEAD)", err, tc.code)
		}

		// Conditional writes.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
		wantCode(t, "PutObject If-None-Match * over an object", err, "PreconditionFailed")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("new"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
		mustOK(t, "PutObject If-None-Match * new key", err)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("x"), IfMatch: aws.String(`"0000"`)})
		wantCode(t, "PutObject If-Match wrong", err, "PreconditionFailed")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("bye"), IfMatch: aws.String(etag)})
		mustOK(t, "PutObject If-Match right", err)
		if b, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")}); string(b) != "bye" {
			t.Fatalf("after conditional PUT: %q", b)
		}
	})
}

func TestSDKResponseOverrides(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		c := e.sdk()
		mkbucket(t, c, "over")
		putString(t, c, "over", "k", "data")
		_, out := getBytes(t, c, &s3.GetObjectInput{
			Bucket:                     aws.String("over"),
			Key:                        aws.String("k"),
			ResponseContentType:        aws.String("image/png"),
			ResponseContentDisposition: aws.String("inline"),
			ResponseCacheControl:       aws.String("no-cache"),
			ResponseContentLanguage:    aws.String("de"),
			ResponseContentEncoding:    aws.String("gzip-not-really"),
			ResponseExpires:            aws.Time(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)),
		})
		checks := []struct{ name, got, want string }{
			{"Content-Type", aws.ToString(out.ContentType), "image/png"},
			{"Content-Disposition", aws.ToString(out.ContentDisposition), "inline"},
			{"Cache-Control", aws.ToString(out.CacheControl), "no-cache"},
			{"Content-Language", aws.ToString(out.ContentLanguage), "de"},
			{"Content-Encoding", aws.ToString(out.ContentEncoding), "gzip-not-really"},
		}
		for _, ck := range checks {
			if ck.got != ck.want {
				t.Errorf("override %s = %q, want %q", ck.name, ck.got, ck.want)
			}
		}
		if out.ExpiresString == nil || !strings.Contains(*out.ExpiresString, "2031") {
			t.Errorf("override Expires = %v", out.ExpiresString)
		}
	})
}

func TestSDKChecksums(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "sums")
		data := []byte(strings.Repeat("checksum me ", 5000))
		crc := crc32.ChecksumIEEE(data)
		wantCRC := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
		h := checksum.CRC64NVME.New()
		h.Write(data)
		wantNVME := base64.StdEncoding.EncodeToString(h.Sum(nil))

		// Without a checksum from the client, S3 computes and stores a CRC64NVME.
		noSums := e.sdk(func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
		put, err := noSums.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("default"), Body: bytes.NewReader(data)})
		mustOK(t, "PutObject", err)
		if aws.ToString(put.ChecksumCRC64NVME) != wantNVME {
			t.Errorf("PutObject response CRC64NVME %q, want %q", aws.ToString(put.ChecksumCRC64NVME), wantNVME)
		}
		_, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String("default"), ChecksumMode: types.ChecksumModeEnabled})
		if aws.ToString(out.ChecksumCRC64NVME) != wantNVME || out.ChecksumType != types.ChecksumTypeFullObject {
			t.Errorf("GetObject CRC64NVME %q type %q, want %q FULL_OBJECT", aws.ToString(out.ChecksumCRC64NVME), out.ChecksumType, wantNVME)
		}

		// The SDK's default CRC32 is verified and kept.
		put, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc32"), Body: bytes.NewReader(data)})
		mustOK(t, "PutObject", err)
		if aws.ToString(put.ChecksumCRC32) != wantCRC {
			t.Errorf("PutObject response CRC32 %q, want %q", aws.ToString(put.ChecksumCRC32), wantCRC)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc32"), ChecksumMode: types.ChecksumModeEnabled})
		mustOK(t, "HeadObject", err)
		if aws.ToString(head.ChecksumCRC32) != wantCRC {
			t.Errorf("HeadObject CRC32 %q, want %q", aws.ToString(head.ChecksumCRC32), wantCRC)
		}
		// Without checksum mode, no checksum.
		head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc32")})
		mustOK(t, "HeadObject", err)
		if head.ChecksumCRC32 != nil {
			t.Errorf("HeadObject without checksum mode sent CRC32 %q", aws.ToString(head.ChecksumCRC32))
		}
		// Nor on a range.
		_, out = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc32"), Range: aws.String("bytes=0-9"), ChecksumMode: types.ChecksumModeEnabled})
		if out.ChecksumCRC32 != nil {
			t.Errorf("ranged GetObject sent CRC32 %q", aws.ToString(out.ChecksumCRC32))
		}

		// Every algorithm the SDK offers round-trips, and the SDK validates it on GET.
		for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
			key := "alg-" + string(alg)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
			mustOK(t, "PutObject "+key, err)
			b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if !bytes.Equal(b, data) {
				t.Fatalf("%s: body differs", key)
			}
			got := map[types.ChecksumAlgorithm]*string{
				types.ChecksumAlgorithmCrc32c: out.ChecksumCRC32C, types.ChecksumAlgorithmSha1: out.ChecksumSHA1,
				types.ChecksumAlgorithmSha256: out.ChecksumSHA256, types.ChecksumAlgorithmCrc64nvme: out.ChecksumCRC64NVME,
			}[alg]
			if got == nil {
				t.Errorf("%s: GetObject returned no %s checksum", key, alg)
			}
		}

		// A wrong checksum is refused, and nothing is stored.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: bytes.NewReader(data),
			ChecksumCRC32: aws.String("AAAAAA==")})
		wantCode(t, "PutObject wrong CRC32", err, "BadDigest")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad")})
		wantCode(t, "HeadObject after a refused PUT", err, "NotFound")
		sum := md5.Sum([]byte("other"))
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: bytes.NewReader(data),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
		wantCode(t, "PutObject wrong Content-MD5", err, "BadDigest")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: bytes.NewReader(data),
			ContentMD5: aws.String("not-base64")})
		wantCode(t, "PutObject malformed Content-MD5", err, "InvalidDigest")

		// A right Content-MD5 is the ETag (the layer takes it instead of hashing the body
		// again); a body that does not match it, sent over that object, is refused at its
		// end and leaves the object as it was. 4 MiB: not inline, streamed to the drives.
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18)
		bigSum := md5.Sum(big)
		put, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("md5"), Body: bytes.NewReader(big),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(bigSum[:]))})
		mustOK(t, "PutObject with Content-MD5", err)
		if want := `"` + hex.EncodeToString(bigSum[:]) + `"`; aws.ToString(put.ETag) != want {
			t.Errorf("PutObject with Content-MD5: ETag %s, want %s", aws.ToString(put.ETag), want)
		}
		other := bytes.Clone(big)
		other[len(other)-1] ^= 1
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("md5"), Body: bytes.NewReader(other),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(bigSum[:]))})
		wantCode(t, "PutObject of a body that differs from its Content-MD5 in its last byte", err, "BadDigest")
		b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String("md5")})
		if !bytes.Equal(b, big) || aws.ToString(out.ETag) != aws.ToString(put.ETag) {
			t.Errorf("after a refused overwrite: %d bytes (equal %v), ETag %s; want the first object, ETag %s",
				len(b), bytes.Equal(b, big), aws.ToString(out.ETag), aws.ToString(put.ETag))
		}
	})
}
