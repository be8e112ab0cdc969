package s3frontend_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listAllV2 pages through ListObjectsV2 and returns keys and common prefixes, with a bound
// on the pages so that a broken token cannot loop forever.
func listAllV2(t *testing.T, c *s3.Client, in s3.ListObjectsV2Input) (keys, prefixes []string, pages int) {
	t.Helper()
	for pages = 1; pages <= 100; pages++ {
		out, err := c.ListObjectsV2(context.Background(), &in)
		mustOK(t, "ListObjectsV2", err)
		if int(aws.ToInt32(out.KeyCount)) != len(out.Contents)+len(out.CommonPrefixes) {
			t.Fatalf("KeyCount %d, listed %d", aws.ToInt32(out.KeyCount), len(out.Contents)+len(out.CommonPrefixes))
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys, prefixes, pages
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	t.Fatal("listing did not end in 100 pages")
	return nil, nil, 0
}

func TestSDKListObjects(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "list")
		all := []string{"a/1", "a/2", "a/b/3", "b/4", "c", "d e/5", "z"}
		for _, k := range all {
			putString(t, c, "list", k, k)
		}
		cases := []struct {
			name           string
			in             s3.ListObjectsV2Input
			keys, prefixes []string
			pages          int
		}{
			{"all", s3.ListObjectsV2Input{}, all, nil, 1},
			{"paged by 2", s3.ListObjectsV2Input{MaxKeys: aws.Int32(2)}, all, nil, 4},
			{"delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"c", "z"}, []string{"a/", "b/", "d e/"}, 1},
			{"delimiter paged", s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, []string{"c", "z"}, []string{"a/", "b/", "d e/"}, 5},
			{"prefix+delimiter", s3.ListObjectsV2Input{Prefix: aws.String("a/"), Delimiter: aws.String("/")}, []string{"a/1", "a/2"}, []string{"a/b/"}, 1},
			{"other delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("b")}, []string{"a/1", "a/2", "c", "d e/5", "z"}, []string{"a/b", "b"}, 1},
			{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("b/4")}, []string{"c", "d e/5", "z"}, nil, 1},
			{"no match", s3.ListObjectsV2Input{Prefix: aws.String("q")}, nil, nil, 1},
		}
		for _, tc := range cases {
			in := tc.in
			in.Bucket = aws.String("list")
			keys, prefixes, pages := listAllV2(t, c, in)
			if !equalStrings(keys, tc.keys) || !equalStrings(prefixes, tc.prefixes) || pages != tc.pages {
				t.Errorf("%s: keys %v prefixes %v in %d pages; want %v %v in %d", tc.name, keys, prefixes, pages, tc.keys, tc.prefixes, tc.pages)
			}
		}

		// encoding-type=url: keys come back percent-encoded.
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("d e"), EncodingType: types.EncodingTypeUrl})
		mustOK(t, "ListObjectsV2 url", err)
		if len(out.Contents) != 1 {
			t.Fatalf("url listing: %d objects", len(out.Contents))
		}
		raw := aws.ToString(out.Contents[0].Key)
		dec, err := url.QueryUnescape(raw)
		if raw != "d%20e/5" || err != nil || dec != "d e/5" {
			t.Errorf("url-encoded key %q (decoded %q, %v)", raw, dec, err)
		}
		if out.EncodingType != types.EncodingTypeUrl {
			t.Errorf("EncodingType %q", out.EncodingType)
		}
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), EncodingType: "base64"})
		wantCode(t, "bad encoding-type", err, "InvalidArgument")

		// fetch-owner.
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), FetchOwner: aws.Bool(true), MaxKeys: aws.Int32(1)})
		mustOK(t, "ListObjectsV2 fetch-owner", err)
		if out.Contents[0].Owner == nil || aws.ToString(out.Contents[0].Owner.ID) == "" {
			t.Errorf("fetch-owner: no owner")
		}
		if out.Contents[0].Size == nil || *out.Contents[0].Size != 3 || aws.ToString(out.Contents[0].ETag) == "" || out.Contents[0].LastModified == nil {
			t.Errorf("entry: %+v", out.Contents[0])
		}
		// max-keys=0.
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(0)})
		mustOK(t, "ListObjectsV2 max-keys 0", err)
		if len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
			t.Errorf("max-keys 0: %d entries, truncated %v", len(out.Contents), aws.ToBool(out.IsTruncated))
		}
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), ContinuationToken: aws.String("!!not a token!!")})
		wantCode(t, "bad continuation token", err, "InvalidArgument")
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nobucket")})
		wantCode(t, "list a missing bucket", err, "NoSuchBucket")

		// Version 1: marker and NextMarker.
		var v1 []string
		in := s3.ListObjectsInput{Bucket: aws.String("list"), MaxKeys: aws.Int32(3)}
		for page := 0; page < 10; page++ {
			out, err := c.ListObjects(ctx, &in)
			mustOK(t, "ListObjects", err)
			for _, o := range out.Contents {
				v1 = append(v1, aws.ToString(o.Key))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.Marker = out.NextMarker
		}
		if !equalStrings(v1, all) {
			t.Errorf("ListObjects v1 paged: %v", v1)
		}
		out1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Delimiter: aws.String("/"), Marker: aws.String("a/")})
		mustOK(t, "ListObjects marker at a prefix", err)
		if len(out1.CommonPrefixes) != 2 || aws.ToString(out1.CommonPrefixes[0].Prefix) != "b/" {
			t.Errorf("v1 marker a/: prefixes %v", out1.CommonPrefixes)
		}
	})
}

func TestSDKListLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := start(t, "epoll")
	c := e.sdk()
	mkbucket(t, c, "big")
	const n = 1001 // one more than a default page
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("big"),
					Key: aws.String(fmt.Sprintf("k%05d", i)), Body: stringsReader("x")}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	keys, _, pages := listAllV2(t, c, s3.ListObjectsV2Input{Bucket: aws.String("big")})
	if len(keys) != n || pages != 2 {
		t.Fatalf("listed %d keys in %d pages", len(keys), pages)
	}
}
