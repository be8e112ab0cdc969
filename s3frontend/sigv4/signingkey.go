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
	res          [sha256.Size]byte
}

func newMAC() *macSHA256 {
	return &macSHA256{inner: sha256.New(), outer: sha256.New()}
}

// compute returns HMAC-SHA256(key, msg1 || msg2). Results travel by value: a pointer to a
// caller's array handed to hash.Hash.Sum would move that array to the heap.
func (m *macSHA256) compute(key []byte, msg1, msg2 []byte) [sha256.Size]byte {
	// INVARIANT: key fits in a block (derived keys are 32 bytes; computeSecret hashes long
	// secrets itself), so it is never handed to a hash.Hash, which would make it escape.
	if len(key) > sha256.BlockSize {
		panic("sigv4: HMAC key longer than a block")
	}
	var k [sha256.BlockSize]byte // key may alias m.key or m.res: copy before reuse
	copy(k[:], key)
	m.key = k
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
	m.outer.Sum(m.res[:0])
	return m.res
}

// deriveKey computes the SigV4 signing key for secret on date (YYYYMMDD) in region for
// service: HMAC chain over "AWS4"+secret, date, region, service, "aws4_request".
func (m *macSHA256) deriveKey(secret string, date []byte, region, service string) [sha256.Size]byte {
	m.res = m.computeSecret(secret, date)
	m.res = m.compute(m.res[:], bytesOf(region), nil)
	m.res = m.compute(m.res[:], bytesOf(service), nil)
	return m.compute(m.res[:], aws4Request, nil)
}

// computeSecret returns HMAC("AWS4"+secret, msg) without building the key string.
func (m *macSHA256) computeSecret(secret string, msg []byte) [sha256.Size]byte {
	if 4+len(secret) <= sha256.BlockSize {
		n := copy(m.key[:], "AWS4")
		n += copy(m.key[n:], secret)
		return m.compute(m.key[:n], msg, nil)
	}
	// Long secrets: HMAC hashes keys longer than a block first.
	m.inner.Reset()
	m.inner.Write(aws4Prefix)
	m.inner.Write(bytesOf(secret))
	m.inner.Sum(m.res[:0])
	return m.compute(m.res[:], msg, nil)
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
