package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptySHA256 is the hex SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// signedRequest returns the raw bytes of a header-signed bodiless request. A server accepts
// it, sent again and again, for the 15 minutes of allowed clock skew.
func signedRequest(method, addr, path string) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: benchAccessKey, SecretAccessKey: benchSecretKey},
		req, emptySHA256, "s3", benchRegion, time.Now()); err != nil {
		return nil, err
	}
	return httputil.DumpRequestOut(req, false)
}

// rawConn sends one prepared request over and over on a keep-alive connection and reads the
// responses, allocating nothing per request.
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	buf  []byte
}

func dialRaw(addr string, req []byte) (*rawConn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), req: req, buf: make([]byte, 16<<10)}, nil
}

// roundTrip sends the request and reads a 200 response with a Content-Length whole.
func (c *rawConn) roundTrip() error {
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	clen := int64(-1)
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first {
			if len(line) < 12 || string(line[9:12]) != "200" {
				return fmt.Errorf("response %q", bytes.TrimSpace(line))
			}
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			clen, _ = strconv.ParseInt(string(bytes.TrimSpace(line[15:])), 10, 64)
		}
	}
	if clen < 0 {
		return io.ErrUnexpectedEOF
	}
	for clen > 0 {
		n, err := c.br.Read(c.buf[:min(int64(len(c.buf)), clen)])
		clen -= int64(n)
		if err != nil && clen > 0 {
			return err
		}
	}
	return nil
}

// roundTripHead sends the request, a HEAD, and reads the 200 response's head.
func (c *rawConn) roundTripHead() error {
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && (len(line) < 12 || string(line[9:12]) != "200") {
			return fmt.Errorf("response %q", bytes.TrimSpace(line))
		}
		if !first && len(line) <= 2 {
			return nil
		}
	}
}
