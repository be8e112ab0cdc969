package postpolicy

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

// TestCheck: each condition kind admits what S3 admits and refuses the rest with S3's
// message; fields the policy does not name are refused, the exempt ones are not.
func TestCheck(t *testing.T) {
	doc := `{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","user/"],
		["eq","$Content-Type","image/png"],["starts-with","$x-amz-meta-tag",""],["content-length-range",1,"10"]]}`
	p, err := Parse(b64(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasLength || p.MinLength != 1 || p.MaxLength != 10 {
		t.Fatalf("length range %+v", p)
	}
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	base := func() map[string]string {
		return map[string]string{"bucket": "b", "key": "user/a", "content-type": "image/png", "policy": "p", "x-amz-signature": "s", "x-ignore-me": "1"}
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]string)
		now    time.Time
		want   string
	}{
		{"admitted", func(map[string]string) {}, now, ""},
		{"empty starts-with admits a missing field", func(f map[string]string) { delete(f, "x-amz-meta-tag") }, now, ""},
		{"starts-with admits any value", func(f map[string]string) { f["x-amz-meta-tag"] = "v" }, now, ""},
		{"expired", func(map[string]string) {}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "Policy expired."},
		{"wrong bucket", func(f map[string]string) { f["bucket"] = "c" }, now, `Policy Condition failed: ["eq", "$bucket", "b"]`},
		{"key outside", func(f map[string]string) { f["key"] = "other/a" }, now, `Policy Condition failed: ["starts-with", "$key", "user/"]`},
		{"missing eq field", func(f map[string]string) { delete(f, "content-type") }, now, `["eq", "$Content-Type", "image/png"]`},
		{"extra field", func(f map[string]string) { f["acl"] = "public-read"; f["x-amz-meta-z"] = "1" }, now, "Extra input fields: acl, x-amz-meta-z"},
	} {
		f := base()
		tc.change(f)
		err := p.Check(f, tc.now)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "AccessDenied: Invalid according to Policy: ")):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestParseRefuses: malformed documents are InvalidPolicyDocument with their reason.
func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"conditions":[]}`, "missing expiration"},
		{`{"expiration":"2030-01-01T00:00:00Z"}`, "missing conditions"},
		{`{"expiration":"tomorrow","conditions":[]}`, "Invalid 'expiration'"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["gt","$key","a"]]}`, "unknown operator"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","a"]]}`, "'$field'"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",10,1]]}`, "content-length-range"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",1.5,2]]}`, "content-length-range"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[{"key":1}]}`, "Simple-Condition"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[],"extra":1}`, "Invalid JSON"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[]} {}`, "Invalid JSON"},
		{`not json`, "Invalid JSON"},
	} {
		_, err := Parse(b64(tc.doc))
		if e, ok := IsError(err); !ok || e.Code != "InvalidPolicyDocument" || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %v, want InvalidPolicyDocument %q", tc.doc, err, tc.want)
		}
	}
	if _, err := Parse([]byte("!!!")); err == nil {
		t.Error("bad base64 parsed")
	}
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil {
		t.Error("an oversized policy parsed")
	}
}

// FuzzParse: any document parses or is refused with an *Error, never a panic; a parsed
// one can be checked against any fields.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","u/"],["content-length-range",1,10]]}`), "key", "u/x")
	f.Add([]byte(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$a","b"],{"c":"d","e":"f"}]}`), "a", "b")
	f.Fuzz(func(t *testing.T, doc []byte, field, value string) {
		p, err := ParseJSON(doc)
		if err != nil {
			if _, ok := IsError(err); !ok {
				t.Fatalf("error of another type: %v", err)
			}
			return
		}
		if p.HasLength && (p.MinLength < 0 || p.MaxLength < p.MinLength) {
			t.Fatalf("bad range %d..%d", p.MinLength, p.MaxLength)
		}
		err = p.Check(map[string]string{field: value}, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			if _, ok := IsError(err); !ok {
				t.Fatalf("check error of another type: %v", err)
			}
		}
	})
}
