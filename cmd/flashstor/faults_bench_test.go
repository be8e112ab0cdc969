package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkClusterThroughput measures S3 PUT and GET throughput of a four-node cluster of
// real processes (127.0.0.1 to 127.0.0.4, two drives each, one 4+4 set) beside one node
// of the same eight drives in one process, in the same run: 16 aws-sdk-go-v2 clients
// (b.SetParallelism), spread round robin over the nodes, PUT and GET 4 KiB (inline in the
// metadata) and 1 MiB (staged) objects.
//
//	go test -run '^$' -bench ClusterThroughput -benchtime 5s -count 3 ./cmd/flashstor/
func BenchmarkClusterThroughput(b *testing.B) {
	for _, setup := range []struct {
		name  string
		start func(testing.TB) *faultCluster
	}{
		{"1node", newSingleNode},
		{"4nodes", func(tb testing.TB) *faultCluster { return newFaultCluster(tb, nil) }},
	} {
		b.Run(setup.name, func(b *testing.B) {
			c := setup.start(b)
			c.makeBucket(0, faultBucket)
			clients := make([]*s3.Client, len(c.nodes))
			for i := range c.nodes {
				clients[i] = c.client(i)
			}
			for _, size := range []int{4 << 10, 1 << 20} {
				body := bytes.Repeat([]byte("f"), size)
				const keys = 64
				for k := range keys { // the objects the GETs read
					key := fmt.Sprintf("bench/%d/%d", size, k)
					if _, err := clients[k%len(clients)].PutObject(context.Background(), &s3.PutObjectInput{
						Bucket: aws.String(faultBucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
						b.Fatal(err)
					}
				}
				b.Run(fmt.Sprintf("put/%dKiB", size>>10), func(b *testing.B) {
					b.SetBytes(int64(size))
					b.SetParallelism(8)
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						me := next.Add(1)
						cl := clients[int(me)%len(clients)]
						for n := 0; pb.Next(); n++ {
							key := fmt.Sprintf("bench/put/%d/%d/%d", size, me, n%32)
							if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{
								Bucket: aws.String(faultBucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
				b.Run(fmt.Sprintf("get/%dKiB", size>>10), func(b *testing.B) {
					b.SetBytes(int64(size))
					b.SetParallelism(8)
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						me := next.Add(1)
						cl := clients[int(me)%len(clients)]
						for n := int(me); pb.Next(); n++ {
							out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{
								Bucket: aws.String(faultBucket), Key: aws.String(fmt.Sprintf("bench/%d/%d", size, n%keys))})
							if err != nil {
								b.Error(err)
								return
							}
							got, err := io.Copy(io.Discard, out.Body)
							out.Body.Close()
							if err != nil || got != int64(size) {
								b.Errorf("GET: %d bytes, %v", got, err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// newSingleNode starts one server process over eight local drives on 127.0.0.1: the
// single-node figure beside a cluster's.
func newSingleNode(tb testing.TB) *faultCluster {
	tb.Helper()
	c := &faultCluster{t: tb, port: clusterPort(tb), hosts: []string{"127.0.0.1"}}
	c.list = []string{tb.TempDir() + "/d{1...8}"}
	c.nodes = []*faultNode{{c: c, host: "127.0.0.1"}}
	tb.Cleanup(c.stopAll)
	c.nodes[0].start()
	if tb.Failed() {
		tb.FailNow()
	}
	return c
}
