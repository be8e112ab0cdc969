package s3frontend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestUploadDoesNotBlockKey sends half of a signed 4 MiB PUT on a raw connection and,
// while the rest is held back, reads, heads, lists and overwrites the key with the SDK from
// other connections: each is answered at once, with the old object (then the second
// writer's), and the held-back upload, once finished, commits last and wins.
func TestUploadDoesNotBlockKey(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		c := e.sdk()
		mkbucket(t, c, "hot")
		old := bytes.Repeat([]byte("old object "), 100_000)
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("hot"), Key: aws.String("k"), Body: bytes.NewReader(old)})
		mustOK(t, "PutObject old", err)

		slow := make([]byte, 4<<20)
		for i := range slow {
			slow[i] = byte(i * 7)
		}
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		head := signedHead(t, e, "PUT", "/hot/k") + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(slow))
		// More than the sockets buffer: once written, the server is reading the body.
		if _, err := conn.Write(append([]byte(head), slow[:len(slow)/2]...)); err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("hot"), Key: aws.String("k")})
		mustOK(t, "GetObject during the upload", err)
		body, err := io.ReadAll(get.Body)
		get.Body.Close()
		mustOK(t, "reading the GET body", err)
		if !bytes.Equal(body, old) {
			t.Fatalf("GET during the upload: %d bytes, not the old object's %d", len(body), len(old))
		}
		hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hot"), Key: aws.String("k")})
		mustOK(t, "HeadObject during the upload", err)
		if got, want := aws.ToString(hd.ETag), etagOf(old); got != want {
			t.Fatalf("HEAD during the upload: ETag %s, want the old %s", got, want)
		}
		list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("hot")})
		mustOK(t, "ListObjectsV2 during the upload", err)
		if len(list.Contents) != 1 || aws.ToInt64(list.Contents[0].Size) != int64(len(old)) {
			t.Fatalf("listing during the upload: %+v", list.Contents)
		}
		second := []byte("the second writer")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hot"), Key: aws.String("k"), Body: bytes.NewReader(second)})
		mustOK(t, "a second PutObject during the upload", err)
		hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hot"), Key: aws.String("k")})
		mustOK(t, "HeadObject after the second PUT", err)
		if got, want := aws.ToString(hd.ETag), etagOf(second); got != want {
			t.Fatalf("HEAD after the second PUT: ETag %s, want %s", got, want)
		}

		if _, err := conn.Write(slow[len(slow)/2:]); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the slow PUT's answer: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etagOf(slow) {
			t.Fatalf("slow PUT: %s, ETag %s, want 200 and %s", resp.Status, resp.Header.Get("ETag"), etagOf(slow))
		}
		hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hot"), Key: aws.String("k")})
		mustOK(t, "HeadObject after the slow PUT", err)
		if got, want := aws.ToString(hd.ETag), etagOf(slow); got != want {
			t.Fatalf("the slow PUT committed last but the key has ETag %s, want %s", got, want)
		}
	})
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}
