package remote

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"github.com/flashstor/flashstor/internal/httpserver"
)

// The body of every call that has one is signed: the sender computes, as the body
// streams, HMAC-SHA256 under the cluster secret of "v1-body\n<nonce>\n" followed by the
// body, where nonce is the request token's (so the body is bound to its method, path,
// query and time), and sends it hex-encoded in trailer X-Flashstor-Body-Mac of the chunked
// body. The handler computes the same as it passes the body on, and at the body's end,
// before the drive may commit anything, refuses a body whose mac is missing or differs:
// the drive's reader fails, so a createfile leaves no file, and the request gets 401.
//
// Why a trailer and not a header: the sender would have to read a shard twice (or hold
// it) to sign it up front; the trailer lets both sides sign and verify in the one pass
// that moves the bytes.

// bodyMAC starts the mac of a body sent under the token with this nonce.
func bodyMAC(secret []byte, nonce string) hash.Hash {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1-body\n" + nonce + "\n"))
	return m
}

// errUnsigned is a body without its sender's mac.
type errUnsigned struct{ error }

// signedBody is a request body on the handler's side: the stream, verified at its end.
type signedBody struct {
	r   *httpserver.Request
	mac hash.Hash
	// verified: the body ended with its sender's mac; bad: it ended without it. Neither
	// until the end.
	verified, bad bool
}

func (b *signedBody) Read(p []byte) (int, error) {
	if b.bad {
		return 0, errUnsigned{errors.New("remote: body mac refused")}
	}
	n, err := b.r.Body.Read(p)
	b.mac.Write(p[:n])
	if err != io.EOF {
		return n, err
	}
	if msg := b.r.Trailer(abortHeader); msg != nil {
		return n, fmt.Errorf("remote: the sender's reader failed: %s", msg)
	}
	var sum [2 * sha256.Size]byte
	hex.Encode(sum[:], b.mac.Sum(nil))
	if !hmac.Equal(b.r.Trailer(bodyMACHeader), sum[:]) {
		b.bad = true
		return n, errUnsigned{errors.New("remote: body mac missing or wrong")}
	}
	b.verified = true
	return n, io.EOF
}

// sentBody is a request body on the client's side: it passes r through, signs it, and at
// its end sets the mac trailer. When r fails it records the error, sets the abort trailer
// instead and ends the body normally, so that the handler learns of the failure in-band
// and removes the partial file before it answers.
type sentBody struct {
	r       io.Reader
	mac     hash.Hash
	trailer http.Header
	err     error // r's error, if it failed
	ended   bool
}

func newSentBody(r io.Reader) *sentBody {
	return &sentBody{r: r, trailer: http.Header{bodyMACHeader: nil, abortHeader: nil}}
}

func (b *sentBody) Read(p []byte) (int, error) {
	if b.ended {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.mac.Write(p[:n])
	switch {
	case err == io.EOF:
		b.ended = true
		b.trailer.Set(bodyMACHeader, hex.EncodeToString(b.mac.Sum(nil)))
	case err != nil:
		b.ended, b.err = true, err
		msg := strings.Map(func(r rune) rune {
			if r < ' ' || r > '~' {
				return '?'
			}
			return r
		}, err.Error())
		if msg == "" {
			msg = "error"
		}
		b.trailer.Set(abortHeader, msg)
		return n, io.EOF
	}
	return n, err
}
