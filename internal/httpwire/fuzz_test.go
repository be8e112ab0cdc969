package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

// validSeeds are well-formed requests that seed every fuzzer.
var validSeeds = []string{
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /b/k?versionId=3 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\n",
	"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
	"POST /b?delete HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h:1/p?q HTTP/1.1\r\nHost: x\r\n\r\n",
}

func seedHeads(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	for _, c := range rejectCases {
		f.Add([]byte(crlfs(c.in)))
	}
	for _, c := range rawRejectCases {
		f.Add([]byte(c.in))
	}
}

// within reports whether v is empty or a sub-slice of buf.
func within(v, buf []byte) bool {
	if len(v) == 0 {
		return true
	}
	for i := range buf {
		if &buf[i] == &v[0] {
			return i+len(v) <= len(buf)
		}
	}
	return false
}

// FuzzParseRequest checks ParseHead's invariants on any input: it never panics, errors are
// ErrIncomplete or an *Error, views stay inside the head, framing is consistent and parsing
// the accepted head again gives the same result.
func FuzzParseRequest(f *testing.F) {
	seedHeads(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Head
		n, err := ParseHead(in, Limits{}, &h)
		if err != nil {
			var perr *Error
			if err != ErrIncomplete && !errors.As(err, &perr) {
				t.Fatalf("unexpected error type %T %v", err, err)
			}
			if err == ErrIncomplete && bytes.Contains(in, []byte("\r\n\r\n")) {
				t.Fatalf("incomplete although the head is terminated")
			}
			return
		}
		head := in[:n]
		if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
			t.Fatalf("head does not end with CRLFCRLF: %q", head)
		}
		if LookupMethod([]byte(h.Method)) == "" {
			t.Fatalf("method %q not in table", h.Method)
		}
		for _, v := range [][]byte{h.Target, h.Path, h.RawQuery, h.Host} {
			if !within(v, head) {
				t.Fatalf("view %q outside the head", v)
			}
		}
		for _, fl := range h.Fields {
			if !within(fl.Name, head) || !within(fl.Value, head) || !ValidFieldName(fl.Name) || !ValidFieldValue(fl.Value) {
				t.Fatalf("bad field %q: %q", fl.Name, fl.Value)
			}
		}
		if h.Chunked != (h.ContentLength == -1) || h.ContentLength < -1 {
			t.Fatalf("framing: chunked %v length %d", h.Chunked, h.ContentLength)
		}
		var h2 Head
		if n2, err := ParseHead(head, Limits{}, &h2); err != nil || n2 != n || h2.Method != h.Method ||
			!bytes.Equal(h2.Target, h.Target) || len(h2.Fields) != len(h.Fields) {
			t.Fatalf("reparse differs: %d %v", n2, err)
		}
	})
}

// FuzzDifferential compares ParseHead (and the chunked decoder) with net/http's request
// reader: whenever ours accepts, net/http must accept too, with the same method, target,
// version, headers, host, connection semantics, body framing and body. Ours may reject more
// (each deliberate difference is listed on ParseHead).
func FuzzDifferential(f *testing.F) {
	seedHeads(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Head
		n, err := ParseHead(in, Limits{}, &h)
		if err != nil {
			return
		}
		ours, oursOK := ourBody(&h, in[n:])
		req, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(in), len(in)+16))
		if err != nil {
			t.Fatalf("we accept, net/http rejects: %v\ninput %q", err, in)
		}
		if req.Method != h.Method || req.RequestURI != string(h.Target) || req.ProtoMajor != 1 ||
			req.ProtoMinor != h.ProtoMinor || req.Host != string(h.Host) || req.Close == h.KeepAlive {
			t.Fatalf("request differs: net/http %s %q %d.%d host %q close %v; ours %s %q 1.%d host %q keepalive %v",
				req.Method, req.RequestURI, req.ProtoMajor, req.ProtoMinor, req.Host, req.Close,
				h.Method, h.Target, h.ProtoMinor, h.Host, h.KeepAlive)
		}
		if want := stdHeaders(req); !equalHeaders(ourHeaders(&h), want) {
			t.Fatalf("headers differ:\nours    %v\nnet/http %v", ourHeaders(&h), want)
		}
		if req.ContentLength != h.ContentLength {
			t.Fatalf("content length: net/http %d, ours %d", req.ContentLength, h.ContentLength)
		}
		if h.Chunked != slices.Equal(req.TransferEncoding, []string{"chunked"}) {
			t.Fatalf("chunked: net/http %v, ours %v", req.TransferEncoding, h.Chunked)
		}
		if !oursOK {
			return // our body decoder rejects or the input is short: nothing to compare
		}
		theirs, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("we decode the body, net/http fails: %v", err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("body: ours %q, net/http %q", ours, theirs)
		}
	})
}

// ourBody returns the body the server would read after the head, and whether it is complete
// and valid.
func ourBody(h *Head, rest []byte) ([]byte, bool) {
	if !h.Chunked {
		if int64(len(rest)) < h.ContentLength {
			return nil, false
		}
		return rest[:h.ContentLength], true
	}
	body, _, err := decodeAll(rest, len(rest), 4096)
	return body, err == io.EOF
}

type headerList map[string][]string

func ourHeaders(h *Head) headerList {
	m := headerList{}
	for _, fl := range h.Fields {
		k := strings.ToLower(string(fl.Name))
		if k == "host" || k == "transfer-encoding" {
			continue // net/http moves these out of Header
		}
		m[k] = append(m[k], string(fl.Value))
	}
	return m
}

func stdHeaders(req *http.Request) headerList {
	m := headerList{}
	for k, vs := range req.Header {
		k = strings.ToLower(k)
		if k == "host" {
			continue
		}
		m[k] = append(m[k], vs...)
	}
	return m
}

func equalHeaders(a, b headerList) bool {
	// net/http adds "Cache-Control: no-cache" for a lone "Pragma: no-cache" (HTTP/1.0 rule).
	if _, ok := a["cache-control"]; !ok && slices.Equal(b["cache-control"], []string{"no-cache"}) {
		delete(b, "cache-control")
	}
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// FuzzChunked checks the chunked decoder: it never panics, the way input is split does not
// change the result (trailers included), and whatever it accepts net/http's chunked reader
// decodes identically, and its trailers are what net/textproto reads from the same bytes.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(1))
	f.Add([]byte("3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n"), uint8(2))
	f.Add([]byte("1\r\nz\r\n0\r\nX-Flashstor-Abort: gone\r\nX-Sum:\t a \r\n\r\n"), uint8(5))
	for _, c := range chunkedRejects {
		f.Add([]byte(c.in), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var dWhole, dSplit ChunkedDecoder
		whole, usedWhole, errWhole := decodeWith(&dWhole, in, len(in)+1, 1<<16)
		split, usedSplit, errSplit := decodeWith(&dSplit, in, int(step)%16+1, int(step)%7+1)
		if (errWhole == nil) != (errSplit == nil) || !bytes.Equal(whole, split) || usedWhole != usedSplit {
			t.Fatalf("split changes the result: %q/%d/%v vs %q/%d/%v", whole, usedWhole, errWhole, split, usedSplit, errSplit)
		}
		tw, ts := dWhole.AppendTrailers(nil), dSplit.AppendTrailers(nil)
		if !slices.EqualFunc(tw, ts, func(a, b Field) bool {
			return bytes.Equal(a.Name, b.Name) && bytes.Equal(a.Value, b.Value)
		}) {
			t.Fatalf("split changes the trailers: %q vs %q", tw, ts)
		}
		if errWhole == io.EOF {
			checkTrailers(t, in[:usedWhole], tw)
		}
		if errWhole != io.EOF {
			var perr *Error
			if errWhole != nil && !errors.As(errWhole, &perr) || errSplit == errStuck {
				t.Fatalf("unexpected error %T %v", errWhole, errWhole)
			}
			return
		}
		theirs, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in[:usedWhole])))
		if err != nil || !bytes.Equal(theirs, whole) {
			t.Fatalf("net/http: %q %v, ours %q", theirs, err, whole)
		}
	})
}

// checkTrailers compares the trailers the decoder kept with what net/textproto reads from
// the trailer section of the accepted body enc (after the last chunk's size line).
func checkTrailers(t *testing.T, enc []byte, got []Field) {
	t.Helper()
	if len(got) > MaxTrailerFields {
		t.Fatalf("%d trailer fields kept, limit %d", len(got), MaxTrailerFields)
	}
	// The trailer section starts after the first size line whose value is zero: find it
	// by decoding again up to the point where the decoder leaves the data.
	var d ChunkedDecoder
	off := 0
	for off < len(enc) && d.state != csTrailerStart {
		_, n, _ := d.Decode(make([]byte, 1<<16), enc[off:off+1])
		off += n
	}
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(enc[off:]))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("net/textproto refuses trailers %q that we accepted: %v", enc[off:], err)
	}
	n := 0
	for _, vs := range hdr {
		n += len(vs)
	}
	if n != len(got) {
		t.Fatalf("net/textproto reads %d trailer fields, we kept %d (%q)", n, len(got), got)
	}
	for _, f := range got {
		if !slices.Contains(hdr.Values(string(f.Name)), string(f.Value)) {
			t.Fatalf("trailer %q: %q, net/textproto: %q", f.Name, f.Value, hdr.Values(string(f.Name)))
		}
	}
}
