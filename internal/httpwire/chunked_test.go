package httpwire

import (
	"errors"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// errStuck reports a decoder that made no progress although it had input and room.
var errStuck = errors.New("decoder made no progress")

// decodeAll runs a decoder over in, feeding it step bytes at a time and draining into a
// dst of dstSize bytes, as a server refilling its buffer would.
func decodeAll(in []byte, step, dstSize int) (body []byte, used int, err error) {
	var d ChunkedDecoder
	return decodeWith(&d, in, step, dstSize)
}

// decodeWith is decodeAll with the caller's decoder, to look at its trailers afterwards.
func decodeWith(d *ChunkedDecoder, in []byte, step, dstSize int) (body []byte, used int, err error) {
	dst := make([]byte, dstSize)
	for used < len(in) {
		end := min(used+step, len(in))
		for {
			nd, ns, err := d.Decode(dst, in[used:end])
			body = append(body, dst[:nd]...)
			used += ns
			if err != nil {
				return body, used, err
			}
			if nd == 0 && ns == 0 {
				return body, used, errStuck
			}
			if used == end {
				break
			}
		}
	}
	if d.Done() {
		return body, used, io.EOF
	}
	return body, used, nil
}

func TestChunkedDecode(t *testing.T) {
	tests := []struct {
		name, in, body string
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde"},
		{"hex upper and lower", "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
		{"extensions", "3;name=v;x\r\nabc\r\n0;last\r\n\r\n", "abc"},
		{"trailers", "1\r\nz\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n", "z"},
		{"leading zeros", "0003\r\nabc\r\n000\r\n\r\n", "abc"},
		{"empty body", "0\r\n\r\n", ""},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 7, len(tt.in)} {
			for _, dstSize := range []int{1, 3, 64} {
				in := []byte(tt.in + "NEXT")
				body, used, err := decodeAll(in, step, dstSize)
				if err != io.EOF || string(body) != tt.body || used != len(tt.in) {
					t.Fatalf("%s step %d dst %d: body %q used %d err %v", tt.name, step, dstSize, body, used, err)
				}
			}
		}
	}
}

var chunkedRejects = []struct {
	name, in string
	reason   Reason
}{
	{"no size", "\r\nabc\r\n0\r\n\r\n", ReasonChunkSize},
	{"bad hex", "g\r\n", ReasonChunkSize},
	{"negative", "-1\r\n", ReasonChunkSize},
	{"0x prefix", "0x5\r\nhello\r\n", ReasonChunkSize},
	{"overflow", "1000000000000000\r\n", ReasonChunkSize},
	{"too many digits", "000000000000000001\r\n", ReasonChunkSize},
	{"bare lf after size", "5\nhello\r\n", ReasonChunkSize},
	{"cr without lf", "5\rhello\r\n", ReasonLineEnding},
	{"data too long", "3\r\nabcd\r\n0\r\n\r\n", ReasonChunkSize},
	{"bare lf after data", "3\r\nabc\n0\r\n\r\n", ReasonLineEnding},
	{"space without ext", "3 x\r\nabc\r\n", ReasonChunkSize},
	{"ws before ext", "3 ;x\r\nabc\r\n", ReasonChunkSize},
	{"too much framing", strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 20), ReasonChunkLine},
	{"ctl in ext", "3;a\x00\r\nabc\r\n", ReasonChunkLine},
	{"bare lf in ext", "3;a\nabc\r\n", ReasonChunkLine},
	{"long ext", "3;" + strings.Repeat("x", MaxChunkLine) + "\r\n", ReasonChunkLine},
	{"obs-fold trailer", "0\r\nX: a\r\n b\r\n\r\n", ReasonTrailer},
	{"bad trailer name", "0\r\nX Y: a\r\n\r\n", ReasonTrailer},
	{"bare lf trailer", "0\r\nX: a\n\r\n", ReasonTrailer},
	{"bare lf final", "0\r\n\n", ReasonTrailer},
	{"huge trailer", "0\r\nX: " + strings.Repeat("v", MaxTrailerBytes) + "\r\n\r\n", ReasonTrailer},
	{"too many trailers", "0\r\n" + strings.Repeat("X: 1\r\n", MaxTrailerFields+1) + "\r\n", ReasonTrailer},
	{"trailer without colon", "0\r\nX\r\n\r\n", ReasonTrailer},
	{"ctl in trailer value", "0\r\nX: a\x01b\r\n\r\n", ReasonTrailer},
}

func TestChunkedTrailers(t *testing.T) {
	in := "1\r\nz\r\n0\r\nX-Sum:  ab cd \r\nEmpty:\r\nx-sum: second\r\n" + strings.Repeat("N: v\r\n", MaxTrailerFields-3) + "\r\n"
	for _, step := range []int{1, 3, len(in)} {
		var d ChunkedDecoder
		if _, _, err := decodeWith(&d, []byte(in), step, 64); err != io.EOF {
			t.Fatalf("step %d: %v", step, err)
		}
		if got := d.Trailer("x-SUM"); string(got) != "ab cd" {
			t.Fatalf("step %d: Trailer(x-SUM) = %q, want the first one, trimmed", step, got)
		}
		if got := d.Trailer("Empty"); got == nil || len(got) != 0 {
			t.Fatalf("step %d: empty trailer = %#v, want empty and not nil", step, got)
		}
		if d.Trailer("Missing") != nil {
			t.Fatal("a missing trailer is not nil")
		}
		fields := d.AppendTrailers(nil)
		if len(fields) != MaxTrailerFields || string(fields[2].Name) != "x-sum" || string(fields[2].Value) != "second" {
			t.Fatalf("step %d: %d fields, third %q", step, len(fields), fields[2])
		}
		d.Reset()
		if d.Trailer("X-Sum") != nil || len(d.AppendTrailers(nil)) != 0 {
			t.Fatal("trailers survive Reset")
		}
	}
	// Before the end of the body there are none, even once a trailer line was read.
	var d ChunkedDecoder
	if _, _, err := d.Decode(make([]byte, 8), []byte("0\r\nX: 1\r\n")); err != nil || d.Trailer("X") != nil {
		t.Fatalf("trailer before the end: %q %v", d.Trailer("X"), err)
	}
}

func TestChunkedRejects(t *testing.T) {
	for _, tt := range chunkedRejects {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeAll([]byte(tt.in), len(tt.in), 64)
			var perr *Error
			if !errors.As(err, &perr) || perr.Reason != tt.reason {
				t.Fatalf("err = %v, want %v", err, tt.reason)
			}
		})
	}
}

func TestChunkedDirectData(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("6\r\nabcdef\r\n0\r\n\r\n")
	_, ns, err := d.Decode(make([]byte, 0), in) // no room: stops at the data
	if err != nil || ns != 3 || d.DataLeft() != 6 {
		t.Fatalf("ns %d left %d err %v", ns, d.DataLeft(), err)
	}
	d.ConsumeData(6) // the caller read the data itself
	if _, ns2, err := d.Decode(nil, in[ns+6:]); err != io.EOF || ns+6+ns2 != len(in) {
		t.Fatalf("after direct read: ns %d err %v", ns2, err)
	}
}

func TestChunkEncodingRoundTrip(t *testing.T) {
	var enc []byte
	for _, part := range []string{"a", strings.Repeat("b", 300), "cc"} {
		enc = AppendChunkHeader(enc, len(part))
		enc = append(enc, part...)
		enc = append(enc, ChunkTrailer...)
	}
	enc = append(enc, LastChunk...)
	got, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(string(enc))))
	if err != nil || string(got) != "a"+strings.Repeat("b", 300)+"cc" {
		t.Fatalf("net/http decoded %q, %v", got, err)
	}
	body, _, err := decodeAll(enc, len(enc), 1024)
	if err != io.EOF || string(body) != string(got) {
		t.Fatalf("own decoder: %q %v", body, err)
	}
}
