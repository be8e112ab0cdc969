package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"hash/crc32"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/s3frontend"
)

// testCert makes a certificate authority and a server certificate it signed for 127.0.0.1.
// It returns the server's TLS configuration (shaped like internal/tlsconf's) and the pool
// clients must trust.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ca := testpki.NewCA(t, "s3frontend test CA")
	cert := ca.Issue(t, 2).TLS
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		NextProtos:     []string{"http/1.1"},
	}, ca.Pool()
}

// serveTLS runs a second Server for e's handler with ServerConfig.TLS on e's transport, and
// returns it and its address.
func serveTLS(t *testing.T, e *env, conf *tls.Config) (*s3frontend.Server, string) {
	t.Helper()
	srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: e.handler, Transport: e.transport, TLS: conf})
	if err != nil {
		t.Fatal(err)
	}
	return srv, serve(t, srv, true)
}

// TestSDKOverTLSServer serves HTTPS through ServerConfig.TLS on both transports: aws-sdk-go-v2
// with its default integrity checksums, which over TLS it sends as trailers of aws-chunked
// bodies (STREAMING-UNSIGNED-PAYLOAD-TRAILER), verifying the server against the test CA.
func TestSDKOverTLSServer(t *testing.T) {
	conf, roots := testCert(t)
	eachTransport(t, func(t *testing.T, e *env) {
		srv, addr := serveTLS(t, e, conf)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 8}
		t.Cleanup(tr.CloseIdleConnections)
		c := e.sdk(func(o *s3.Options) {
			o.BaseEndpoint = aws.String("https://" + addr)
			o.HTTPClient = &http.Client{Transport: tr}
		})
		ctx := context.Background()
		mkbucket(t, c, "tls")
		data := bytes.Repeat([]byte("trailing checksum "), 20000)
		crc := crc32.ChecksumIEEE(data)
		want := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), Body: bytes.NewReader(data)})
		mustOK(t, "PutObject", err)
		if aws.ToString(put.ChecksumCRC32) != want {
			t.Errorf("PutObject CRC32 %q, want %q (the SDK's trailer)", aws.ToString(put.ChecksumCRC32), want)
		}
		b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
		if !bytes.Equal(b, data) || aws.ToString(out.ChecksumCRC32) != want {
			t.Errorf("GetObject: %d bytes, CRC32 %q", len(b), aws.ToString(out.ChecksumCRC32))
		}

		create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp")})
		mustOK(t, "CreateMultipartUpload", err)
		var done []types.CompletedPart
		var whole []byte
		for i, d := range [][]byte{partData(1, 5<<20), partData(2, 10)} {
			up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: create.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(d)})
			mustOK(t, "UploadPart", err)
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
			whole = append(whole, d...)
		}
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: create.UploadId})
		mustOK(t, "ListParts", err)
		for i, p := range lp.Parts {
			if aws.ToString(p.ChecksumCRC32) == "" || aws.ToString(p.ChecksumCRC32) != aws.ToString(done[i].ChecksumCRC32) {
				t.Errorf("part %d: stored CRC32 %q, the SDK's trailer was %q", i+1, aws.ToString(p.ChecksumCRC32), aws.ToString(done[i].ChecksumCRC32))
			}
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp"),
			UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		mustOK(t, "CompleteMultipartUpload", err)
		if b, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("mp")}); !bytes.Equal(b, whole) {
			t.Errorf("multipart object: %d bytes differ from the %d uploaded", len(b), len(whole))
		}

		// Plain HTTP to the TLS port fails; the plain server of the harness is unaffected.
		plain := e.sdk(func(o *s3.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
		if _, err := plain.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			t.Error("plain HTTP request to the TLS port succeeded")
		}
		if st := srv.Stats(); st != nil {
			if st.Requests.Load() == 0 || st.Accepted.Load() >= st.Requests.Load() {
				t.Errorf("epoll over TLS: %d requests on %d connections, want keep-alive", st.Requests.Load(), st.Accepted.Load())
			}
		}
	})
}

// TestServerTLSRefusesTLS11 checks that ServerConfig.TLS holds TLS 1.2 as the floor on both
// transports even when the config allows less.
func TestServerTLSRefusesTLS11(t *testing.T) {
	conf, roots := testCert(t)
	conf.MinVersion = tls.VersionTLS10
	eachTransport(t, func(t *testing.T, e *env) {
		_, addr := serveTLS(t, e, conf)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}
