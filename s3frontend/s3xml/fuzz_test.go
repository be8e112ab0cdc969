package s3xml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The request-body parsers take any bytes without panicking, and fail only with
// ErrMalformed (S3's MalformedXML).

func FuzzParseDelete(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>&lt;</Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := ParseDelete(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(d.Objects) == 0 || len(d.Objects) > MaxDeleteObjects {
			t.Fatalf("%d objects accepted", len(d.Objects))
		}
		for _, o := range d.Objects {
			if o.Key == "" {
				t.Fatal("empty key accepted")
			}
		}
	})
}

func FuzzParseComplete(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><ChecksumCRC32C>x</ChecksumCRC32C></Part></CompleteMultipartUpload>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		parts, err := ParseComplete(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > MaxParts {
			t.Fatalf("%d parts accepted", len(parts))
		}
	})
}

func FuzzParseCreateBucket(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if _, err := ParseCreateBucket(doc); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
	})
}

// FuzzWriterEscaping checks that any text the Writer is given makes a well-formed document
// that reads back as the same text, up to the characters XML cannot carry.
func FuzzWriterEscaping(f *testing.F) {
	f.Add("a<b>&c\"d'e")
	f.Add("\x00\x1f\x7f\xff\ufffe")
	f.Fuzz(func(t *testing.T, s string) {
		var w Writer
		w.Root("R")
		w.String("V", s)
		w.Close("R")
		var doc struct{ V string }
		if err := xml.Unmarshal(w.B, &doc); err != nil {
			t.Fatalf("document for %q does not parse: %v\n%s", s, err, w.B)
		}
		if len(AppendEscaped(nil, s)) < len(s)/2 {
			t.Fatalf("escaping lost text")
		}
		if valid(s) && doc.V != s {
			t.Fatalf("text %q read back as %q", s, doc.V)
		}
	})
}

// valid reports whether every character of s can appear in an XML document as is.
func valid(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || !isXMLChar(r) {
			return false
		}
	}
	return true
}

func FuzzParseVersioning(f *testing.F) {
	f.Add([]byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := ParseVersioning(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if v.Status != "" && v.Status != "Enabled" && v.Status != "Suspended" || v.MFADelete != "" && v.MFADelete != "Enabled" && v.MFADelete != "Disabled" {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzParseTagging(f *testing.F) {
	f.Add([]byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag><Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<Tagging><TagSet/></Tagging>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		tags, err := ParseTagging(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(tags) > MaxTagsParsed {
			t.Fatalf("%d tags accepted", len(tags))
		}
	})
}

func FuzzParseACL(f *testing.F) {
	f.Add([]byte(`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>abc</ID></Owner><AccessControlList>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>` +
		`</AccessControlList></AccessControlPolicy>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		acl, err := ParseACL(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(acl.Grants) > MaxGrants {
			t.Fatalf("%d grants accepted", len(acl.Grants))
		}
		for _, g := range acl.Grants {
			if g.ID == "" && g.URI == "" && g.Email == "" && g.Type != "CanonicalUser" && g.Type != "Group" && g.Type != "AmazonCustomerByEmail" {
				t.Fatalf("grant %+v accepted", g)
			}
		}
	})
}

// FuzzParseCORS also checks that an accepted configuration, written back as S3 returns it,
// parses to the same rules.
func FuzzParseCORS(f *testing.F) {
	f.Add([]byte(`<CORSConfiguration><CORSRule><ID>r</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>` +
		`<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rules, err := ParseCORS(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidCORS) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrInvalidCORS", err)
			}
			return
		}
		var w Writer
		w.WriteCORS(rules)
		again, err := ParseCORS(w.B)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(rules) {
			t.Fatalf("written back: %v, %v; first %v\n%s", again, err, rules, w.B)
		}
	})
}

func FuzzParseLifecycle(f *testing.F) {
	f.Add([]byte(`<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>` +
		`<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Expiration><Days>3</Days></Expiration>` +
		`<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays></NoncurrentVersionExpiration></Rule>` +
		`<Rule><Status>Disabled</Status><Prefix>tmp/</Prefix><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Status>Enabled</Status><Filter/><Expiration><Date>2027-01-01T00:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rules, err := ParseLifecycle(doc)
		if err != nil {
			var re *RuleError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &re) {
				t.Fatalf("error %v is neither ErrMalformed nor a RuleError", err)
			}
			return
		}
		if len(rules) == 0 || len(rules) > MaxLifecycleRules {
			t.Fatalf("%d rules accepted", len(rules))
		}
		for _, r := range rules {
			if r.ExpirationDays == 0 && r.ExpirationDate.IsZero() && !r.ExpiredObjectDeleteMarker && r.NoncurrentDays == 0 && r.AbortMultipartDays == 0 &&
				!strings.Contains(string(doc), "ExpiredObjectDeleteMarker") {
				t.Fatalf("rule without an action accepted: %+v", r)
			}
		}
	})
}

func FuzzParseObjectLock(f *testing.F) {
	f.Add([]byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>3</Days></DefaultRetention></Rule></ObjectLockConfiguration>`))
	f.Add([]byte(`<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-02T03:04:05.678Z</RetainUntilDate></Retention>`))
	f.Add([]byte(`<LegalHold><Status>ON</Status></LegalHold>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if c, err := ParseObjectLockConfig(doc); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
		} else if c.Mode != "" && (c.Days == 0) == (c.Years == 0) || c.Days < 0 || c.Years < 0 {
			t.Fatalf("accepted %+v", c)
		}
		if r, err := ParseRetention(doc); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
		} else if (r.Mode == "") != r.Until.IsZero() {
			t.Fatalf("accepted %+v", r)
		}
		if _, err := ParseLegalHold(doc); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
	})
}
