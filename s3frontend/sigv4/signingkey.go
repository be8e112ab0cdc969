package sigv4

import (
	"crypto/sha256"
	"hash"
	"sync"
)

// macSHA256 computes HMAC-SHA256 with reusable hash states, so that the many HMACs of one
// verification (key derivation, request and chunk signatures) allocate nothing. Not safe for
// concurrent use: each verification owns one through its scratch state.
type macSHA256 struct {
	inner, outer hash.Hash
	pad          [sha256.BlockSize]byte
	key          [sha256.BlockSize]byte
	sum          [sha256.Size]byte
}

func newMAC() *macSHA256 {
	return &macSHA256{inner: sha256.New(), outer: sha256.New()}
}

// compute sets *out to HMAC-SHA256(key, msg1 || msg2).
func (m *macSHA256) compute(out *[sha256.Size]byte, key []byte, msg1, msg2 []byte) {
	m.key = [sha256.BlockSize]byte{}
	if len(key) > sha256.BlockSize {
		m.inner.Reset()
		m.inner.Write(key)
		m.inner.Sum(m.key[:0])
	} else {
		copy(m.key[:], key)
	}
	for i := range m.pad {
		m.pad[i] = m.key[i] ^ 0x36
	}
	m.inner.Reset()
	m.inner.Write(m.pad[:])
	m.inner.Write(msg1)
	m.inner.Write(msg2)
	m.inner.Sum(m.sum[:0])
	for i := range m.pad {
		m.pad[i] = m.key[i] ^ 0x5c
	}
	m.outer.Reset()
	m.outer.Write(m.pad[:])
	m.outer.Write(m.sum[:])
	m.outer.Sum(out[:0])
}

// deriveKey computes the SigV4 signing key for secret on date (YYYYMMDD) in region for
// service: HMAC chain over "AWS4"+secret, date, region, service, "aws4_request".
func (m *macSHA256) deriveKey(out *[sha256.Size]byte, secret string, date []byte, region, service string) {
	var k [sha256.Size]byte
	m.computeSecret(&k, secret, date)
	m.compute(&k, k[:], bytesOf(region), nil)
	m.compute(&k, k[:], bytesOf(service), nil)
	m.compute(out, k[:], aws4Request, nil)
}

// computeSecret sets *out to HMAC("AWS4"+secret, msg) without building the key string.
func (m *macSHA256) computeSecret(out *[sha256.Size]byte, secret string, msg []byte) {
	var buf [sha256.BlockSize]byte
	if 4+len(secret) <= len(buf) {
		n := copy(buf[:], "AWS4")
		n += copy(buf[n:], secret)
		m.compute(out, buf[:n], msg, nil)
		return
	}
	// Long secrets: HMAC hashes keys longer than a block first.
	m.inner.Reset()
	m.inner.Write(aws4Prefix)
	m.inner.Write(bytesOf(secret))
	var h [sha256.Size]byte
	m.inner.Sum(h[:0])
	m.compute(out, h[:], msg, nil)
}

// Read-only byte forms of SigV4 constants, fed to hashes without converting per call.
var (
	aws4Prefix  = []byte("AWS4")
	aws4Request = []byte("aws4_request")
)

// keyCacheKey identifies one derived signing key. The region and service are the verifier's
// own strings, so building a key never copies request bytes.
type keyCacheKey struct {
	secret  string
	date    [8]byte
	region  string
	service string
}

// keyCache is a bounded cache of derived signing keys: two generations of at most max
// entries each; when the current one fills up it becomes the old one and the older is
// dropped, so hot keys survive (they are copied forward on use) and memory stays bounded.
type keyCache struct {
	mu  sync.Mutex                        // guards cur and old
	cur map[keyCacheKey][sha256.Size]byte // GUARDED_BY(mu)
	old map[keyCacheKey][sha256.Size]byte // GUARDED_BY(mu)
	max int                               // entries per generation; INVARIANT: len(cur) <= max
}

func newKeyCache(max int) *keyCache {
	return &keyCache{cur: make(map[keyCacheKey][sha256.Size]byte, max), max: max}
}

// get returns the cached key for k.
func (c *keyCache) get(k keyCacheKey) ([sha256.Size]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	if v, ok := c.old[k]; ok {
		c.putLocked(k, v)
		return v, true
	}
	return [sha256.Size]byte{}, false
}

// put stores the key for k.
func (c *keyCache) put(k keyCacheKey, v [sha256.Size]byte) {
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
}

func (c *keyCache) putLocked(k keyCacheKey, v [sha256.Size]byte) {
	if len(c.cur) >= c.max {
		c.old = c.cur
		c.cur = make(map[keyCacheKey][sha256.Size]byte, c.max)
	}
	c.cur[k] = v
}

// len returns the number of cached keys, for tests.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
