package remote

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// A correctly signed createfile whose chunked trailer section is malformed gets 400 from
// the epoll-served handler, and the drive keeps no file.
func TestMalformedTrailerIs400(t *testing.T) {
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(fuzzSecret, map[string]storage.Drive{"d1": d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpserver.New(httpserver.Config{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	path, query := Prefix+"d1/createfile", "path=tmp%2Fx&size=-1&vol=.flashstor.sys"
	tok := sign(fuzzSecret, "PUT", path, query, time.Now(), strings.Repeat("ab", 16))
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	req := "PUT " + path + "?" + query + " HTTP/1.1\r\nHost: n\r\n" + authHeader + ": " + tok +
		"\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + bodyMACHeader + " : x\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed trailer: %s, want 400", resp.Status)
	}
	if _, err := d.OpenFile(t.Context(), storage.SysVolume, "tmp/x"); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatal("the drive kept the file of a body with a malformed trailer")
	}
}
