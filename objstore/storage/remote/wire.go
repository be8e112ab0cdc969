package remote

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Prefix is the path prefix of protocol version 1.
const Prefix = "/flashstor/drive/v1/"

const (
	// MaxSkew is how far a token's time may be from the handler's clock.
	MaxSkew = 30 * time.Second
	// MaxSmallBody caps bodies that are read whole (formats, metadata, small files).
	MaxSmallBody = 64 << 20

	authHeader  = "X-Flashstor-Node"
	errHeader   = "X-Flashstor-Error"
	abortHeader = "X-Flashstor-Abort"
	// bodyMACHeader is the trailer that signs a request body (body.go).
	bodyMACHeader = "X-Flashstor-Body-Mac"
	maxNonces     = 1 << 20
)

// codes names the storage errors on the wire; the order is irrelevant, the names are the
// protocol.
var codes = []struct {
	code string
	err  error
}{
	{"unformatted", storage.ErrUnformatted},
	{"drive-offline", storage.ErrDriveOffline},
	{"drive-full", storage.ErrDriveFull},
	{"faulty", storage.ErrFaulty},
	{"timeout", storage.ErrTimeout},
	{"invalid-path", storage.ErrInvalidPath},
	{"volume-not-found", storage.ErrVolumeNotFound},
	{"volume-exists", storage.ErrVolumeExists},
	{"volume-not-empty", storage.ErrVolumeNotEmpty},
	{"file-not-found", storage.ErrFileNotFound},
	{"file-corrupt", storage.ErrFileCorrupt},
	{"short-write", storage.ErrShortWrite},
	{"long-write", storage.ErrLongWrite},
}

// errCode returns the wire name of the storage error err wraps; an error that wraps none is
// "faulty" (the drive failed in a way the protocol has no name for).
func errCode(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "faulty"
}

// codeErr rebuilds an error from its wire name and message.
func codeErr(code, msg string) error {
	for _, c := range codes {
		if c.code == code {
			return &wireError{msg: msg, err: c.err}
		}
	}
	return &wireError{msg: msg + " (unknown error code " + strconv.Quote(code) + ")", err: storage.ErrFaulty}
}

type wireError struct {
	msg string
	err error
}

func (e *wireError) Error() string { return "remote: " + e.msg }
func (e *wireError) Unwrap() error { return e.err }

// call is a decoded request path: the drive and the operation.
type call struct {
	drive, op string
}

var ops = map[string]string{ // op -> HTTP method
	"diskinfo": "GET", "readformat": "GET", "writeformat": "PUT", "makevolume": "POST",
	"statvolume": "GET", "listvolumes": "GET", "deletevolume": "POST", "createfile": "PUT",
	"openfile": "GET", "readat": "GET", "readfile": "GET", "writefile": "PUT",
	"renamefile": "POST", "delete": "POST", "listdir": "GET", "readmeta": "GET",
	"commit": "PUT", "deleteobject": "POST", "renameobject": "POST", "walk": "GET",
}

// parseCall decodes a request's method and path as sent (percent-encoded: the drive name
// is decoded here, so an escaped '/' cannot split it).
func parseCall(method, path string) (call, error) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return call{}, errors.New("not a v1 drive path")
	}
	drive, op, ok := strings.Cut(rest, "/")
	if !ok || drive == "" || strings.Contains(op, "/") {
		return call{}, errors.New("path is not <drive>/<op>")
	}
	drive, err := url.PathUnescape(drive)
	if err != nil || drive == "" {
		return call{}, errors.New("bad drive name")
	}
	want, ok := ops[op]
	if !ok {
		return call{}, fmt.Errorf("unknown op %q", op)
	}
	if method != want {
		return call{}, fmt.Errorf("op %s wants %s, not %s", op, want, method)
	}
	return call{drive: drive, op: op}, nil
}

// parseInt decodes a non-negative decimal argument (or -1 where allowMinus).
func parseInt(s string, allowMinus bool) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 || (n == -1 && !allowMinus) {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}

// mac computes a token's signature.
func mac(secret []byte, method, path, rawQuery, ts, nonce string) string {
	h := hmac.New(sha256.New, secret)
	for _, s := range []string{"v1", method, path, rawQuery, ts} {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	h.Write([]byte(nonce))
	return hex.EncodeToString(h.Sum(nil))
}

// sign returns the token for a request at now.
func sign(secret []byte, method, path, rawQuery string, now time.Time, nonce string) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	return "v1:" + ts + ":" + nonce + ":" + mac(secret, method, path, rawQuery, ts, nonce)
}

// token is a decoded X-Flashstor-Node header.
type token struct {
	ms    int64
	ts    string
	nonce string
	mac   string
}

func parseToken(h string) (token, error) {
	parts := strings.Split(h, ":")
	if len(parts) != 4 || parts[0] != "v1" {
		return token{}, errors.New("not a v1 token")
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ms <= 0 {
		return token{}, errors.New("bad token time")
	}
	if len(parts[2]) != 32 || !isHex(parts[2]) || len(parts[3]) != 64 || !isHex(parts[3]) {
		return token{}, errors.New("bad token nonce or mac")
	}
	return token{ms: ms, ts: parts[1], nonce: parts[2], mac: parts[3]}, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// verifier checks tokens and remembers the nonces of the replay window.
type verifier struct {
	secret []byte
	now    func() time.Time

	mu     sync.Mutex
	nonces map[[16]byte]int64 // nonce -> expiry, Unix ms (binary keys: half the memory of hex)
	pruned int64
}

// verify checks a request's token and returns its nonce, which the body's mac covers.
func (v *verifier) verify(header, method, path, rawQuery string) (string, error) {
	tok, err := parseToken(header)
	if err != nil {
		return "", err
	}
	now := v.now().UnixMilli()
	if d := now - tok.ms; d > MaxSkew.Milliseconds() || d < -MaxSkew.Milliseconds() {
		return "", fmt.Errorf("token time off by %d ms", d)
	}
	want := mac(v.secret, method, path, rawQuery, tok.ts, tok.nonce)
	if !hmac.Equal([]byte(want), []byte(tok.mac)) {
		return "", errors.New("bad token mac")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if now-v.pruned > 1000 || len(v.nonces) >= maxNonces {
		for n, exp := range v.nonces {
			if exp < now {
				delete(v.nonces, n)
			}
		}
		v.pruned = now
	}
	var nonce [16]byte
	hex.Decode(nonce[:], []byte(tok.nonce)) // parseToken checked: 32 lower-case hex digits
	if _, seen := v.nonces[nonce]; seen {
		return "", errors.New("token replayed")
	}
	if len(v.nonces) >= maxNonces {
		return "", errors.New("replay window full")
	}
	v.nonces[nonce] = tok.ms + 2*MaxSkew.Milliseconds()
	return tok.nonce, nil
}
