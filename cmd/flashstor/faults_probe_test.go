package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// probeLatency PUTs and GETs an object of size bytes through node i, one after the other,
// for d (at most 10,000 times), and returns how long each PUT and each GET took (a read
// and a write wait for different things). Every call must succeed and read back what it
// wrote.
func probeLatency(t *testing.T, c *faultCluster, i int, key string, size int, d time.Duration) (puts, gets latencies) {
	t.Helper()
	cl := c.client(i)
	end := time.Now().Add(d)
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
		cancel()
		if err != nil {
			t.Fatalf("probe %d through node %d: %v", n, i+1, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("probe %d through node %d read %d bytes, not the %d it wrote", n, i+1, len(got), len(body))
		}
		puts = append(puts, getBegan.Sub(began))
		gets = append(gets, time.Since(getBegan))
	}
	return puts, gets
}
