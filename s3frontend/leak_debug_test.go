//go:build arenadebug

package s3frontend_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/arena"
)

// TestArenaLeaks runs the S3 operations on the epoll transport built with -tags arenadebug
// and checks that the handler keeps no view of a request's arena past the request.
func TestArenaLeaks(t *testing.T) {
	var leaks atomic.Int64
	e := start(t, "epoll", func(o *envOptions) {
		o.http.OnArenaLeak = func(l arena.Leak) {
			leaks.Add(1)
			t.Log(l)
		}
	})
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "leaks")
	for i := 0; i < 20; i++ {
		putString(t, c, "leaks", "k", strings.Repeat("x", 10+i*1000))
		getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("leaks"), Key: aws.String("k"), Range: aws.String("bytes=1-5")})
		c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("leaks"), Key: aws.String("missing")})
		c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("leaks"), EncodingType: "url"})
		c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("leaks"), Key: aws.String("copy"), CopySource: aws.String("leaks/k")})
		c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("leaks"), Key: aws.String("nope")})
	}
	reqs := e.srv.Stats().Requests.Load()
	// A real leak repeats on every request that takes its path; a rare report can be a
	// false positive of the detector (see the arena package comment).
	if n := leaks.Load(); n > reqs/100 {
		t.Fatalf("%d arena leaks in %d requests", n, reqs)
	}
}
