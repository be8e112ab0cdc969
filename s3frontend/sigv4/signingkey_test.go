package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"testing"
)

// refKey derives a signing key with crypto/hmac, independently of macSHA256.
func refKey(secret, date, region, service string) []byte {
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	return mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
}

func TestDeriveKeyMatchesCryptoHMAC(t *testing.T) {
	m := newMAC()
	for _, secret := range []string{"", docSecret, string(make([]byte, 60)), string(make([]byte, 61)), string(make([]byte, 200))} {
		got := m.deriveKey(secret, []byte("20130524"), "us-east-1", "s3")
		if want := refKey(secret, "20130524", "us-east-1", "s3"); string(got[:]) != string(want) {
			t.Fatalf("secret of %d bytes: derived key differs from crypto/hmac", len(secret))
		}
	}
}

// TestKeyCacheBounded fills the cache far past its bound and checks that it holds at most
// two generations and still returns correct keys.
func TestKeyCacheBounded(t *testing.T) {
	c := newKeyCache(4)
	m := newMAC()
	for i := range 100 {
		k := keyCacheKey{secret: "s" + strconv.Itoa(i), region: "us-east-1", service: "s3"}
		copy(k.date[:], "20130524")
		c.put(k, m.deriveKey(k.secret, k.date[:], k.region, k.service))
		if n := c.len(); n > 8 {
			t.Fatalf("cache holds %d keys, bound is 2x4", n)
		}
	}
	for i := 96; i < 100; i++ {
		k := keyCacheKey{secret: "s" + strconv.Itoa(i), region: "us-east-1", service: "s3"}
		copy(k.date[:], "20130524")
		got, ok := c.get(k)
		if !ok || string(got[:]) != string(refKey(k.secret, "20130524", "us-east-1", "s3")) {
			t.Fatalf("key %d: cached %v", i, ok)
		}
	}
	k := keyCacheKey{secret: "s0", region: "us-east-1", service: "s3"}
	copy(k.date[:], "20130524")
	if _, ok := c.get(k); ok {
		t.Fatal("the oldest key survived two generations")
	}
}
