package s3frontend_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestMinioClient drives every operation through minio-go, whose uploads over plain HTTP
// use signed aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with a trailing
// checksum when it sends one).
func TestMinioClient(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mc := e.minio()
		mustOK(t, "MakeBucket", mc.MakeBucket(ctx, "mio", minio.MakeBucketOptions{Region: testRegion}))
		err := mc.MakeBucket(ctx, "mio", minio.MakeBucketOptions{})
		if minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			t.Errorf("MakeBucket twice: %v", err)
		}
		ok, err := mc.BucketExists(ctx, "mio")
		if err != nil || !ok {
			t.Fatalf("BucketExists: %v %v", ok, err)
		}
		ok, err = mc.BucketExists(ctx, "nosuchbucket")
		if err != nil || ok {
			t.Fatalf("BucketExists missing: %v %v", ok, err)
		}
		bs, err := mc.ListBuckets(ctx)
		if err != nil || len(bs) != 1 || bs[0].Name != "mio" {
			t.Fatalf("ListBuckets: %v %v", bs, err)
		}

		data := bytes.Repeat([]byte("minio-go "), 30000) // 270 KB: not inline
		info, err := mc.PutObject(ctx, "mio", "dir/obj", bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: "text/minio", UserMetadata: map[string]string{"k": "v"}})
		mustOK(t, "PutObject", err)
		if info.Size != int64(len(data)) {
			t.Errorf("PutObject size %d", info.Size)
		}
		// Unknown size: minio-go streams a multipart upload.
		_, err = mc.PutObject(ctx, "mio", "unknown-size", io.LimitReader(zeroReader{}, 6<<20), -1, minio.PutObjectOptions{PartSize: 5 << 20})
		mustOK(t, "PutObject of unknown size", err)
		// Explicit multipart with client checksums.
		big := bytes.Repeat([]byte{7}, 11<<20)
		_, err = mc.PutObject(ctx, "mio", "multi", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 << 20, SendContentMd5: true})
		mustOK(t, "PutObject multipart", err)

		obj, err := mc.GetObject(ctx, "mio", "dir/obj", minio.GetObjectOptions{})
		mustOK(t, "GetObject", err)
		got, err := io.ReadAll(obj)
		mustOK(t, "read", err)
		if !bytes.Equal(got, data) {
			t.Fatalf("GetObject: %d bytes", len(got))
		}
		st, err := obj.Stat()
		mustOK(t, "Stat", err)
		if st.ContentType != "text/minio" || st.UserMetadata["K"] != "v" {
			t.Errorf("Stat: type %q meta %v", st.ContentType, st.UserMetadata)
		}
		// Reads at offsets go through Range requests.
		buf := make([]byte, 100)
		if n, err := obj.ReadAt(buf, 250000); err != nil || n != 100 || !bytes.Equal(buf, data[250000:250100]) {
			t.Errorf("ReadAt: %d %v", n, err)
		}
		obj.Close()
		opts := minio.GetObjectOptions{}
		opts.SetRange(10, 19)
		obj, err = mc.GetObject(ctx, "mio", "dir/obj", opts)
		mustOK(t, "GetObject range", err)
		got, _ = io.ReadAll(obj)
		obj.Close()
		if !bytes.Equal(got, data[10:20]) {
			t.Errorf("range: %q", got)
		}
		_, err = mc.StatObject(ctx, "mio", "missing", minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Errorf("StatObject missing: %v", err)
		}

		// Copy, with a condition.
		_, err = mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mio", Object: "copy"}, minio.CopySrcOptions{Bucket: "mio", Object: "dir/obj"})
		mustOK(t, "CopyObject", err)
		_, err = mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mio", Object: "copy2"}, minio.CopySrcOptions{Bucket: "mio", Object: "dir/obj", MatchETag: "nope"})
		if minio.ToErrorResponse(err).Code != "PreconditionFailed" {
			t.Errorf("CopyObject with a failing condition: %v", err)
		}
		// ComposeObject: multipart upload from server-side part copies.
		_, err = mc.ComposeObject(ctx, minio.CopyDestOptions{Bucket: "mio", Object: "composed"},
			minio.CopySrcOptions{Bucket: "mio", Object: "multi"}, minio.CopySrcOptions{Bucket: "mio", Object: "dir/obj"})
		mustOK(t, "ComposeObject", err)
		st, err = mc.StatObject(ctx, "mio", "composed", minio.StatObjectOptions{})
		mustOK(t, "StatObject composed", err)
		if st.Size != int64(len(big)+len(data)) {
			t.Errorf("composed size %d", st.Size)
		}

		// Listing, both versions.
		for _, v1 := range []bool{false, true} {
			var keys []string
			for o := range mc.ListObjects(ctx, "mio", minio.ListObjectsOptions{Recursive: true, UseV1: v1, MaxKeys: 2}) {
				mustOK(t, "ListObjects", o.Err)
				keys = append(keys, o.Key)
			}
			want := []string{"composed", "copy", "dir/obj", "multi", "unknown-size"}
			if !equalStrings(keys, want) {
				t.Errorf("ListObjects (v1 %v): %v", v1, keys)
			}
		}
		var top []string
		for o := range mc.ListObjects(ctx, "mio", minio.ListObjectsOptions{}) {
			top = append(top, o.Key)
		}
		slices.Sort(top) // minio-go yields a page's objects before its prefixes
		if !equalStrings(top, []string{"composed", "copy", "dir/", "multi", "unknown-size"}) {
			t.Errorf("ListObjects with delimiter: %v", top)
		}

		// Incomplete uploads.
		core := minio.Core{Client: mc}
		id, err := core.NewMultipartUpload(ctx, "mio", "pending", minio.PutObjectOptions{})
		mustOK(t, "NewMultipartUpload", err)
		var pending []string
		for u := range mc.ListIncompleteUploads(ctx, "mio", "", true) {
			mustOK(t, "ListIncompleteUploads", u.Err)
			pending = append(pending, u.Key+"/"+u.UploadID)
		}
		if len(pending) != 1 || pending[0] != "pending/"+id {
			t.Errorf("ListIncompleteUploads: %v", pending)
		}
		mustOK(t, "RemoveIncompleteUpload", mc.RemoveIncompleteUpload(ctx, "mio", "pending"))

		// Presigned GET.
		u, err := mc.PresignedGetObject(ctx, "mio", "dir/obj", time.Hour, url.Values{"response-content-type": {"x/y"}})
		mustOK(t, "PresignedGetObject", err)
		r := e.do(newRequest(t, "GET", u.String(), nil), false)
		if r.status != 200 || len(r.body) != len(data) || r.header.Get("Content-Type") != "x/y" {
			t.Errorf("presigned GET: %d, %d bytes, type %q", r.status, len(r.body), r.header.Get("Content-Type"))
		}

		// Removal.
		mustOK(t, "RemoveObject", mc.RemoveObject(ctx, "mio", "copy", minio.RemoveObjectOptions{}))
		objs := make(chan minio.ObjectInfo, 8)
		for _, k := range []string{"composed", "dir/obj", "multi", "unknown-size", "never-existed"} {
			objs <- minio.ObjectInfo{Key: k}
		}
		close(objs)
		for re := range mc.RemoveObjects(ctx, "mio", objs, minio.RemoveObjectsOptions{}) {
			t.Errorf("RemoveObjects: %s: %v", re.ObjectName, re.Err)
		}
		mustOK(t, "RemoveBucket", mc.RemoveBucket(ctx, "mio"))
		err = mc.RemoveBucket(ctx, "mio")
		if minio.ToErrorResponse(err).Code != "NoSuchBucket" {
			t.Errorf("RemoveBucket twice: %v", err)
		}
	})
}

// zeroReader reads zeros forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
