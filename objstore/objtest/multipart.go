package objtest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

const minPart = 5 << 20

func uploadPart(t *testing.T, l objstore.ObjectLayer, b, k, id string, n int, content []byte) objstore.PartInfo {
	t.Helper()
	p, err := l.PutObjectPart(ctx(t), b, k, id, n, bytes.NewReader(content), int64(len(content)), objstore.PartOptions{})
	must(t, fmt.Sprintf("PutObjectPart %d", n), err)
	if p.ETag != md5hex(content) || p.Size != int64(len(content)) {
		t.Fatalf("part %d: %+v", n, p)
	}
	return p
}

func testMultipart(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	id, err := l.NewMultipartUpload(c, b, "big/object", objstore.PutOptions{Metadata: map[string]string{"content-type": "video/mp4"}})
	must(t, "NewMultipartUpload", err)
	parts := map[int][]byte{1: data(minPart, 1), 3: data(minPart+1, 3), 7: data(12345, 7), 9: data(minPart, 9)}
	for _, n := range []int{7, 1, 3, 9} {
		uploadPart(t, l, b, "big/object", id, n, parts[n])
	}
	// Uploading a part again replaces it.
	parts[3] = data(minPart+2, 33)
	uploadPart(t, l, b, "big/object", id, 3, parts[3])

	lp, err := l.ListObjectParts(c, b, "big/object", id, 0, 2)
	must(t, "ListObjectParts", err)
	if len(lp.Parts) != 2 || lp.Parts[0].Number != 1 || lp.Parts[1].Number != 3 || !lp.IsTruncated || lp.NextPartNumberMarker != 3 {
		t.Fatalf("ListObjectParts page 1 = %+v", lp)
	}
	lp, err = l.ListObjectParts(c, b, "big/object", id, 3, 10)
	must(t, "ListObjectParts", err)
	if len(lp.Parts) != 2 || lp.Parts[0].Number != 7 || lp.IsTruncated || lp.Metadata["content-type"] != "video/mp4" {
		t.Fatalf("ListObjectParts page 2 = %+v", lp)
	}

	// Complete with parts 1, 3, 7 only: 9 is discarded.
	var whole []byte
	var sums []byte
	var list []objstore.CompletePart
	for _, n := range []int{1, 3, 7} {
		whole = append(whole, parts[n]...)
		s := md5.Sum(parts[n])
		sums = append(sums, s[:]...)
		list = append(list, objstore.CompletePart{Number: n, ETag: `"` + md5hex(parts[n]) + `"`})
	}
	info, err := l.CompleteMultipartUpload(c, b, "big/object", id, list, objstore.CompleteOptions{})
	must(t, "CompleteMultipartUpload", err)
	wantETag := fmt.Sprintf("%s-3", hex.EncodeToString(md5Sum(sums)))
	if info.ETag != wantETag || info.Size != int64(len(whole)) || info.ContentType() != "video/mp4" || len(info.Parts) != 3 {
		t.Fatalf("CompleteMultipartUpload = %+v, want ETag %s", info, wantETag)
	}
	checkContent(t, l, b, "big/object", whole)
	st, err := l.StatObject(c, b, "big/object")
	must(t, "StatObject", err)
	if st.ETag != wantETag {
		t.Fatalf("StatObject ETag %s, want %s", st.ETag, wantETag)
	}
	_, err = l.ListObjectParts(c, b, "big/object", id, 0, 10)
	mustIs(t, "ListObjectParts after completion", err, objstore.ErrNoSuchUpload)
}

func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

func testMultipartErrors(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	put(t, l, b, "k", []byte("previous"))
	id, err := l.NewMultipartUpload(c, b, "k", objstore.PutOptions{})
	must(t, "NewMultipartUpload", err)
	small := data(100, 1)
	p1 := uploadPart(t, l, b, "k", id, 1, small)
	p2 := uploadPart(t, l, b, "k", id, 2, small)
	_, err = l.CompleteMultipartUpload(c, b, "k", id, []objstore.CompletePart{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: p2.ETag}}, objstore.CompleteOptions{})
	mustIs(t, "Complete with a small part that is not last", err, objstore.ErrEntityTooSmall)
	_, err = l.CompleteMultipartUpload(c, b, "k", id, []objstore.CompletePart{{Number: 2, ETag: p2.ETag}, {Number: 1, ETag: p1.ETag}}, objstore.CompleteOptions{})
	mustIs(t, "Complete with parts out of order", err, objstore.ErrInvalidPartOrder)
	_, err = l.CompleteMultipartUpload(c, b, "k", id, []objstore.CompletePart{{Number: 1, ETag: "0000"}}, objstore.CompleteOptions{})
	mustIs(t, "Complete with a wrong ETag", err, objstore.ErrInvalidPart)
	_, err = l.CompleteMultipartUpload(c, b, "k", id, []objstore.CompletePart{{Number: 4, ETag: p1.ETag}}, objstore.CompleteOptions{})
	mustIs(t, "Complete with a missing part", err, objstore.ErrInvalidPart)
	_, err = l.CompleteMultipartUpload(c, b, "k", id, nil, objstore.CompleteOptions{})
	mustIs(t, "Complete with no parts", err, objstore.ErrInvalidPart)
	_, err = l.PutObjectPart(c, b, "k", id, 10001, bytes.NewReader(small), 100, objstore.PartOptions{})
	mustIs(t, "part number 10001", err, objstore.ErrInvalidArgument)
	checkContent(t, l, b, "k", []byte("previous"))
	// A single small part is a valid upload.
	info, err := l.CompleteMultipartUpload(c, b, "k", id, []objstore.CompletePart{{Number: 1, ETag: p1.ETag}}, objstore.CompleteOptions{})
	must(t, "Complete with one small part", err)
	if info.Size != 100 {
		t.Fatalf("size %d", info.Size)
	}
	checkContent(t, l, b, "k", small)

	id2, err := l.NewMultipartUpload(c, b, "k2", objstore.PutOptions{})
	must(t, "NewMultipartUpload", err)
	uploadPart(t, l, b, "k2", id2, 1, small)
	must(t, "AbortMultipartUpload", l.AbortMultipartUpload(c, b, "k2", id2))
	mustIs(t, "Abort twice", l.AbortMultipartUpload(c, b, "k2", id2), objstore.ErrNoSuchUpload)
	_, err = l.PutObjectPart(c, b, "k2", id2, 1, bytes.NewReader(small), 100, objstore.PartOptions{})
	mustIs(t, "PutObjectPart after abort", err, objstore.ErrNoSuchUpload)
	for _, bad := range []string{"", "../../etc", "ZZZZ", "00000000000000000000000000000000/../x"} {
		_, err = l.PutObjectPart(c, b, "k2", bad, 1, bytes.NewReader(small), 100, objstore.PartOptions{})
		mustIs(t, fmt.Sprintf("PutObjectPart with upload id %q", bad), err, objstore.ErrNoSuchUpload)
	}
	_, err = l.NewMultipartUpload(c, "no-such-bucket", "k", objstore.PutOptions{})
	mustIs(t, "NewMultipartUpload in a missing bucket", err, objstore.ErrBucketNotFound)
}

func testListUploads(t *testing.T, l objstore.ObjectLayer) {
	b := bucket(t, l)
	c := ctx(t)
	keys := []string{"a/1", "a/2", "b", "a/1", "c/d/e"}
	var ids []string
	for _, k := range keys {
		id, err := l.NewMultipartUpload(c, b, k, objstore.PutOptions{})
		must(t, "NewMultipartUpload", err)
		ids = append(ids, id)
	}
	res, err := l.ListMultipartUploads(c, b, objstore.ListUploadsOptions{})
	must(t, "ListMultipartUploads", err)
	var got []string
	for _, u := range res.Uploads {
		got = append(got, u.Key)
	}
	if !slices.Equal(got, []string{"a/1", "a/1", "a/2", "b", "c/d/e"}) {
		t.Fatalf("ListMultipartUploads keys = %q", got)
	}
	res, err = l.ListMultipartUploads(c, b, objstore.ListUploadsOptions{Delimiter: "/"})
	must(t, "ListMultipartUploads with delimiter", err)
	if !slices.Equal(res.Prefixes, []string{"a/", "c/"}) || len(res.Uploads) != 1 || res.Uploads[0].Key != "b" {
		t.Fatalf("with delimiter: %+v", res)
	}
	res, err = l.ListMultipartUploads(c, b, objstore.ListUploadsOptions{MaxUploads: 2})
	must(t, "ListMultipartUploads page", err)
	if len(res.Uploads) != 2 || !res.IsTruncated {
		t.Fatalf("first page: %+v", res)
	}
	next, err := l.ListMultipartUploads(c, b, objstore.ListUploadsOptions{KeyMarker: res.NextKeyMarker, UploadIDMarker: res.NextUploadIDMarker})
	must(t, "ListMultipartUploads next page", err)
	if len(next.Uploads) != 3 || next.Uploads[0].Key != "a/2" {
		t.Fatalf("second page: %+v", next)
	}
	must(t, "AbortMultipartUpload", l.AbortMultipartUpload(c, b, keys[0], ids[0]))
	res, _ = l.ListMultipartUploads(c, b, objstore.ListUploadsOptions{})
	if len(res.Uploads) != 4 {
		t.Fatalf("after abort, %d uploads", len(res.Uploads))
	}
}
