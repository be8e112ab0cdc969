package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/objstore/lincheck"
)

// latencies summarises the durations of a probe's round trips.
type latencies []time.Duration

func (l latencies) String() string {
	if len(l) == 0 {
		return "no round trip"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("%d round trips, p50 %v, p90 %v, p99 %v, max %v", len(s), q(0.5), q(0.9), q(0.99), s[len(s)-1].Round(100*time.Microsecond))
}

// probeLatency PUTs, GETs and lists (ListObjectsV2 of key's prefix) an object of size bytes
// through node i, one after the other, for d (at most 10,000 times), and returns how long
// each PUT, GET and listing took (they wait for different things). Every call must
// succeed, read back what it wrote and list the key.
func probeLatency(t *testing.T, c *faultCluster, i int, key string, size int, d time.Duration) (puts, gets, lists latencies) {
	t.Helper()
	cl := c.client(i)
	end := time.Now().Add(d)
	prefix := key[:strings.LastIndexByte(key, '/')+1]
	for n := 1; n <= 10000 && time.Now().Before(end); n++ {
		body := lincheck.Body(lincheck.Value(0xb0b0<<32|n), size)
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		var got []byte
		getBegan := time.Now()
		if err == nil {
			var o *s3.GetObjectOutput
			if o, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(faultBucket), Key: aws.String(key)}); err == nil {
				got, err = io.ReadAll(o.Body)
				o.Body.Close()
			}
		}
		listBegan := time.Now()
		listed := false
		if err == nil {
			var l *s3.ListObjectsV2Output
			if l, err = cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(faultBucket), Prefix: aws.String(prefix)}); err == nil {
				listed = slices.ContainsFunc(l.Contents, func(o types.Object) bool { return aws.ToString(o.Key) == key })
			}
		}
		cancel()
		if err != nil {
			t.Fatalf("probe %d through node %d: %v", n, i+1, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("probe %d through node %d read %d bytes, not the %d it wrote", n, i+1, len(got), len(body))
		}
		if !listed {
			t.Fatalf("probe %d through node %d: the listing of %s lacks %s", n, i+1, prefix, key)
		}
		puts = append(puts, getBegan.Sub(began))
		gets = append(gets, listBegan.Sub(getBegan))
		lists = append(lists, time.Since(listBegan))
	}
	return puts, gets, lists
}
