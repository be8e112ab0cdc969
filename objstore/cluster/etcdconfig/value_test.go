package etcdconfig

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	const key = "/flashstor/v1/buckets/b/config/policy"
	if doc, err := decode(key, encode(`{"x":"é\u0000"}`)); err != nil || doc != `{"x":"é\u0000"}` {
		t.Fatalf("round trip: %q, %v", doc, err)
	}
	if doc, err := decode(key, []byte(`{"v":1,"doc":""}`)); err != nil || doc != "" {
		t.Fatalf("empty document: %q, %v", doc, err)
	}
	for _, bad := range []string{``, `{`, `null`, `{"v":1}`, `{"v":2,"doc":"x"}`, `{"v":1,"doc":3}`,
		`{"v":1,"doc":"x","more":1}`, `{"v":1,"doc":"x"}{}`, `<VersioningConfiguration/>`} {
		_, err := decode(key, []byte(bad))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("decode(%q) = %v, want an error naming the key", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"doc":"Enabled"}`))
	f.Add([]byte(`{"v":2,"doc":""}`))
	f.Add([]byte(`{"doc":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := decode("k", b)
		if err != nil {
			if !strings.Contains(err.Error(), "k") {
				t.Fatalf("error without the key: %v", err)
			}
			return
		}
		again, err := decode("k", encode(doc))
		if err != nil || again != doc {
			t.Fatalf("re-encoded %q: %q, %v", doc, again, err)
		}
	})
}

func TestParseKey(t *testing.T) {
	if b, n, err := parseKey("/flashstor/v1/buckets/photos/config/versioning"); err != nil || b != "photos" || n != "versioning" {
		t.Fatalf("parseKey: %q %q %v", b, n, err)
	}
	for _, bad := range []string{"/flashstor/v1/buckets/photos/config/", "/flashstor/v1/buckets/photos/versioning",
		"/flashstor/v1/buckets/photos/config/a/b", "/flashstor/v1/buckets/Bad_Name/config/x", "/other/photos/config/x",
		"/flashstor/v1/buckets//config/x"} {
		if _, _, err := parseKey(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("parseKey(%q) = %v, want an error naming the key", bad, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("/flashstor/v1/buckets/photos/config/versioning")
	f.Add("/flashstor/v1/buckets/a/config/b/config/c")
	f.Fuzz(func(t *testing.T, key string) {
		bucket, name, err := parseKey(key)
		if err != nil {
			if !strings.Contains(err.Error(), "not a bucket document key") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if configPrefix(bucket)+name != key {
			t.Fatalf("parseKey(%q) = %q, %q: does not rebuild the key", key, bucket, name)
		}
	})
}
