package layout

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestObjectPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"a", "a%m"},
		{"a/b/c.txt", "a/b/c.txt%m"},
		{"dir/", "dir/%00%m"},
		{"/", "%00/%00%m"},
		{"/abs", "%00/abs%m"},
		{"a//b", "a/%00/b%m"},
		{"..", "%2E%2E%m"},
		{"../../etc/passwd", "%2E%2E/%2E%2E/etc/passwd%m"},
		{"./x", "%2E/x%m"},
		{"a/./b/../c", "a/%2E/b/%2E%2E/c%m"},
		{"100%", "100%25%m"},
		{"%2E", "%252E%m"},
		{"%00", "%2500%m"},
		{"x%m", "x%25m%m"},
		{"%data", "%25data%m"},
		{"...", "...%m"},
		{"sp ace/ünï/€", "sp ace/ünï/€%m"},
	}
	for _, tt := range tests {
		if err := CheckKey(tt.key); err != nil {
			t.Fatalf("CheckKey(%q) = %v", tt.key, err)
		}
		got := ObjectPath(tt.key)
		if got != tt.want {
			t.Errorf("ObjectPath(%q) = %q, want %q", tt.key, got, tt.want)
		}
		back, ok := KeyFromPath(got)
		if !ok || back != tt.key {
			t.Errorf("KeyFromPath(%q) = %q, %v; want %q", got, back, ok, tt.key)
		}
	}
}

func TestCheckKeyRefuses(t *testing.T) {
	tests := []struct {
		key  string
		want error
	}{
		{"", ErrKeyEmpty},
		{strings.Repeat("a", 1025), ErrKeyTooLong},
		{"a\x00b", ErrKeyHasNUL},
		{"bad\xffutf8", ErrKeyInvalidUTF8},
		{strings.Repeat("b", 254), ErrSegmentTooLong},
		{"ok/" + strings.Repeat("%", 85), ErrSegmentTooLong},
	}
	for _, tt := range tests {
		if err := CheckKey(tt.key); !errors.Is(err, tt.want) {
			t.Errorf("CheckKey(%.20q...) = %v, want %v", tt.key, err, tt.want)
		}
	}
	for _, ok := range []string{strings.Repeat("b", 253), strings.Repeat("%", 84), strings.Repeat("a/", 512)} {
		if err := CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%.20q...) = %v, want nil", ok, err)
		}
	}
}

func TestDecodeRejectsForeignNames(t *testing.T) {
	for _, name := range []string{"%data", "%bucket", "%m", "a%2E", "%", "%2", "%ZZ", ".", "..", ""} {
		if seg, ok := DecodeSegment(name); ok {
			t.Errorf("DecodeSegment(%q) = %q, true; want not a user name", name, seg)
		}
	}
	if _, ok := ParseMetaName("plain"); ok {
		t.Error("ParseMetaName accepted a name without the suffix")
	}
}

func TestCheckBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.1", "a1b", strings.Repeat("a", 63), "1.2.3"}
	bad := []string{"ab", strings.Repeat("a", 64), "Abc", "-abc", "abc-", ".abc", "abc.", "a..b",
		"a_b", "192.168.1.1", "xn--abc", "sthree-x", "abc-s3alias", "abc--ol-s3", "a b", "abc/",
		"amzn-s3-demo-x", "abc--x-s3", "abc.mrap", "a%b"}
	for _, n := range good {
		if err := CheckBucketName(n); err != nil {
			t.Errorf("CheckBucketName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := CheckBucketName(n); err == nil {
			t.Errorf("CheckBucketName(%q) = nil, want an error", n)
		}
	}
}

// FuzzObjectPath checks, for any key, that a key CheckKey accepts maps to a clean relative
// path of short components inside the bucket, that the mapping is reversible (hence
// injective), and that internal names are never produced for a user segment.
func FuzzObjectPath(f *testing.F) {
	for _, k := range []string{"a", "a/b", "../x", "a//b", "dir/", "/", "%", "%25", ".", "..", "x%m", "%data", "a/%bucket"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		p := ObjectPath(key)
		if path.IsAbs(p) || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("key %q maps to unclean path %q", key, p)
		}
		for _, comp := range strings.Split(p, "/") {
			if comp == "" || comp == "." || comp == ".." || len(comp) > MaxNameLength {
				t.Fatalf("key %q maps to bad component %q in %q", key, comp, p)
			}
			if comp == DataDir || comp == BucketMetaFile {
				t.Fatalf("key %q maps to internal name %q", key, comp)
			}
		}
		back, ok := KeyFromPath(p)
		if !ok || back != key {
			t.Fatalf("KeyFromPath(ObjectPath(%q)) = %q, %v", key, back, ok)
		}
	})
}
