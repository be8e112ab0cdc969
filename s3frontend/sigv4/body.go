package sigv4

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

// BodyOptions tunes Body.
type BodyOptions struct {
	// Compute names a checksum to compute when the request sends none of its own, so that
	// the caller can store one anyway: S3 computes CRC64NVME for PutObject, and an UploadPart
	// computes the algorithm its CreateMultipartUpload chose. checksum.None computes nothing.
	Compute checksum.Algorithm
}

// Body is the request body with its integrity verified as it streams. Read returns the
// payload (decoded, for aws-chunked bodies) and returns io.EOF only once every check has
// passed: x-amz-content-sha256, chunk and trailer signatures, the decoded length,
// Content-MD5 and the x-amz-checksum-* header or trailer. Any failure is returned instead
// of io.EOF as an *Error, possibly after data was delivered: the object core must abort a
// write whose reader fails, even at its end. Not safe for concurrent use.
type Body struct {
	src     io.Reader
	chunked *chunkReader // nil for a plain body
	payload Payload

	sha     hash.Hash // PayloadSHA256 only
	wantSHA [sha256.Size]byte

	md5     hash.Hash // with Content-MD5 only
	wantMD5 checksum.Value

	sum        hash.Hash // the checksum being computed, nil for none
	sumAlg     checksum.Algorithm
	wantSum    checksum.Value // from a header; zero when none or from the trailer
	fromTrailr bool

	decodedLen int64 // -1 when unknown
	n          int64
	err        error // sticky failure
	done       bool
	result     checksum.Value
}

// Body wraps src, the raw request body (bounded by the request's Content-Length or
// transfer coding), in the checks that a (verified) auth and r's headers call for. It fails
// at once on malformed integrity headers.
func (v *Verifier) Body(r Request, a *Auth, src io.Reader, opt BodyOptions) (*Body, error) {
	b := &Body{src: src, payload: a.Payload, decodedLen: -1}
	var vals [][]byte
	var val []byte
	var ok bool

	if val, ok, vals = firstHeader(r, vals, "content-md5"); ok {
		md5v, err := checksum.ParseBase64(checksum.MD5, val)
		if err != nil {
			return nil, newError(FailInvalidContentMD5)
		}
		b.md5, b.wantMD5 = checksum.MD5.New(), md5v
	}
	if err := b.setupChecksum(r, vals, opt); err != nil {
		return nil, err
	}
	if a.Payload == PayloadSHA256 {
		b.sha, b.wantSHA = sha256.New(), a.payloadHash
	}
	if a.Payload.Chunked() {
		if err := b.setupChunked(v, r, a); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// setupChecksum reads x-amz-checksum-*, x-amz-trailer and x-amz-sdk-checksum-algorithm.
func (b *Body) setupChecksum(r Request, vals [][]byte, opt BodyOptions) error {
	names := r.AppendHeaderNames(nil)
	var alg checksum.Algorithm
	for _, name := range names {
		a, ok := checksum.AlgorithmForHeader(name)
		if !ok || a == alg {
			continue
		}
		if alg != checksum.None {
			return newError(FailMultipleChecksums)
		}
		alg = a
	}
	if alg != checksum.None {
		vals = r.AppendHeaderValues(vals[:0], alg.HeaderName())
		if len(vals) != 1 {
			return newErrorMsg(FailInvalidChecksumHeader, "Value for "+alg.HeaderName()+" header is invalid.")
		}
		v, err := checksum.ParseBase64(alg, vals[0])
		if err != nil {
			return newErrorMsg(FailInvalidChecksumHeader, "Value for "+alg.HeaderName()+" header is invalid.")
		}
		b.wantSum = v
	}
	if vals = r.AppendHeaderValues(vals[:0], "x-amz-trailer"); len(vals) > 0 {
		if !b.payload.Chunked() || b.payload == PayloadStreaming {
			return newError(FailUnsupportedTrailer)
		}
		ta, ok := checksum.AlgorithmForHeader([]byte(strings.TrimSpace(string(vals[0]))))
		if len(vals) != 1 || !ok {
			return newError(FailUnsupportedTrailer)
		}
		if alg != checksum.None {
			return newError(FailMultipleChecksums)
		}
		alg, b.fromTrailr = ta, true
	}
	if vals = r.AppendHeaderValues(vals[:0], "x-amz-sdk-checksum-algorithm"); len(vals) > 0 {
		sa, err := checksum.ParseAlgorithm(vals[0])
		if err != nil {
			return newErrorMsg(FailChecksumAlgorithm, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
		if sa != alg {
			return newErrorMsg(FailChecksumAlgorithm, "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		}
	}
	if alg == checksum.None {
		alg = opt.Compute
	}
	if alg != checksum.None {
		b.sum, b.sumAlg = alg.New(), alg
	}
	return nil
}

// setupChunked prepares the aws-chunked decoder.
func (b *Body) setupChunked(v *Verifier, r Request, a *Auth) error {
	var vals [][]byte
	val, ok, _ := firstHeader(r, vals, "x-amz-decoded-content-length")
	signed := a.Payload == PayloadStreaming || a.Payload == PayloadStreamingTrailer
	switch {
	case ok:
		n, good := digits(val)
		if !good || len(val) == 0 || len(val) > 15 {
			return newError(FailBadDecodedLength)
		}
		b.decodedLen = int64(n)
	case signed:
		return newError(FailMissingDecodedLength, [2]string{"MissingHeaderName", "x-amz-decoded-content-length"})
	}
	c := &chunkReader{
		br:         bufio.NewReaderSize(b.src, maxChunkHeader),
		signed:     signed,
		trailer:    a.Payload == PayloadStreamingTrailer || a.Payload == PayloadStreamingUnsignedTrailer,
		decodedLen: b.decodedLen,
	}
	if b.fromTrailr {
		c.trailerName = b.sumAlg.HeaderName()
	}
	if signed {
		c.mac, c.key, c.prev, c.chunk = newMAC(), a.key, a.signature, sha256.New()
		scope := append([]byte(nil), a.amzDate[:]...)
		scope = append(scope, '\n')
		scope = v.appendScope(scope, a.amzDate[:8], a.Service)
		c.scope = append(scope, '\n')
	}
	b.chunked = c
	return nil
}

// Read implements io.Reader; see Body.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	var n int
	var err error
	if b.chunked != nil {
		n, err = b.chunked.Read(p)
	} else {
		n, err = b.src.Read(p)
	}
	if n > 0 {
		data := p[:n]
		b.n += int64(n)
		if b.sha != nil {
			b.sha.Write(data)
		}
		if b.md5 != nil {
			b.md5.Write(data)
		}
		if b.sum != nil {
			b.sum.Write(data)
		}
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		if ferr := b.finish(); ferr != nil {
			b.err = ferr
			return n, ferr
		}
		b.done = true
		return n, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		b.err = incomplete()
	case FailureOf(err) != 0:
		b.err = err
	default:
		b.err = fmt.Errorf("sigv4: reading request body: %w", err)
	}
	return n, b.err
}

// finish runs the end-of-body checks, in S3's order.
func (b *Body) finish() error {
	if b.decodedLen >= 0 && b.n != b.decodedLen {
		return incomplete()
	}
	if b.sha != nil {
		var got [sha256.Size]byte
		b.sha.Sum(got[:0])
		if subtle.ConstantTimeCompare(got[:], b.wantSHA[:]) != 1 {
			return newError(FailContentSHA256Mismatch)
		}
	}
	if b.md5 != nil {
		if got := checksum.Sum(checksum.MD5, b.md5); !got.Equal(b.wantMD5) {
			return newError(FailContentMD5Mismatch)
		}
	}
	if b.sum == nil {
		return nil
	}
	got := checksum.Sum(b.sumAlg, b.sum)
	want := b.wantSum
	if b.fromTrailr {
		v, err := checksum.ParseBase64(b.sumAlg, b.chunked.trailerValue)
		if err != nil {
			return newErrorMsg(FailInvalidChecksumHeader, "Value for "+b.sumAlg.HeaderName()+" trailing header is invalid.")
		}
		want = v
	}
	if !want.IsZero() && !got.Equal(want) {
		return newErrorMsg(FailChecksumMismatch, "The "+b.sumAlg.String()+" you specified did not match the calculated checksum.")
	}
	b.result = got
	return nil
}

// Checksum returns, after Read has returned io.EOF, the body's checksum: the one the client
// sent (as header or trailer), now verified, or the one BodyOptions.Compute asked for. It
// returns false before the end of the body, after a failure, or when there is none.
func (b *Body) Checksum() (checksum.Value, bool) {
	if !b.done || b.result.IsZero() {
		return checksum.Value{}, false
	}
	return b.result, true
}

// ContentMD5 returns the digest of the request's Content-MD5 header, if it had one. Read
// verifies it at the body's end: it fails with BadDigest instead of returning io.EOF when
// the body does not match, so a reader of the whole body may take the digest as the body's
// MD5 before it has read a byte.
func (b *Body) ContentMD5() ([]byte, bool) {
	if b.md5 == nil {
		return nil, false
	}
	return append([]byte(nil), b.wantMD5.Raw()...), true
}

// ClientChecksum reports whether the checksum returned by Checksum came from the client
// (header or trailer) rather than from BodyOptions.Compute.
func (b *Body) ClientChecksum() bool { return b.fromTrailr || !b.wantSum.IsZero() }

// Size returns the number of payload bytes delivered so far (the decoded size for
// aws-chunked bodies).
func (b *Body) Size() int64 { return b.n }
