package s3xml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWriter(t *testing.T) {
	var w Writer
	w.Declaration()
	w.Root("Doc")
	w.String("Key", "a<b>&\"c'\td\x01e\xff")
	w.Bytes("Raw", []byte("x\ny\rz"))
	w.Int("N", -42)
	w.Bool("B", true)
	w.Time("T", time.Date(2024, 2, 3, 4, 5, 6, 7_000_000, time.FixedZone("x", 3600)))
	w.ETag("ETag", "abc")
	w.Close("Doc")
	var doc struct {
		XMLName xml.Name `xml:"Doc"`
		Key     string
		Raw     string
		N       int
		B       bool
		T       string
		ETag    string
	}
	if err := xml.Unmarshal(w.B, &doc); err != nil {
		t.Fatalf("%v\n%s", err, w.B)
	}
	if doc.XMLName.Space != Namespace {
		t.Errorf("namespace %q", doc.XMLName.Space)
	}
	if doc.Key != "a<b>&\"c'\td\uFFFDe\uFFFD" || doc.Raw != "x\ny\rz" || doc.N != -42 || !doc.B ||
		doc.T != "2024-02-03T03:05:06.007Z" || doc.ETag != `"abc"` {
		t.Errorf("round trip: %+v", doc)
	}
	w.Reset()
	if len(w.B) != 0 {
		t.Error("Reset left bytes")
	}
}

func TestParseCreateBucket(t *testing.T) {
	cases := []struct {
		doc, loc string
		ok       bool
	}{
		{"", "", true},
		{"  \n", "", true},
		{`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`, "eu-west-1", true},
		{`<?xml version="1.0"?><CreateBucketConfiguration/>`, "", true},
		{`<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>`, "", false},
		{`<Other/>`, "", false},
		{`<CreateBucketConfiguration>`, "", false},
		{`<CreateBucketConfiguration/><Extra/>`, "", false},
		{`junk<CreateBucketConfiguration/>`, "", false},
	}
	for _, tc := range cases {
		loc, err := ParseCreateBucket([]byte(tc.doc))
		if (err == nil) != tc.ok || loc != tc.loc {
			t.Errorf("ParseCreateBucket(%q) = %q, %v", tc.doc, loc, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v is not ErrMalformed", err)
		}
	}
}

func TestParseDelete(t *testing.T) {
	d, err := ParseDelete([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
		<Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>`))
	if err != nil || !d.Quiet || len(d.Objects) != 2 || d.Objects[0].Key != "a&b" || d.Objects[1].VersionID != "null" {
		t.Fatalf("ParseDelete: %+v %v", d, err)
	}
	many := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>"
	for _, bad := range []string{
		"", "<Delete/>", "<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
		"<Delete><Object></Object></Delete>", "<Delete><Object><Key></Key></Object></Delete>",
		"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>", many, "<Delete><Object><Key>a</Key></Object>",
	} {
		if _, err := ParseDelete([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseDelete(%.60q): %v", bad, err)
		}
	}
}

func TestParseComplete(t *testing.T) {
	parts, err := ParseComplete([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"e2"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
		<Part><ETag>e1</ETag><PartNumber> 1 </PartNumber></Part></CompleteMultipartUpload>`))
	if err != nil || len(parts) != 2 || parts[0].PartNumber != 2 || parts[0].ETag != `"e2"` || parts[0].Checksums["ChecksumCRC32"] != "AAAAAA==" ||
		parts[1].PartNumber != 1 || parts[1].Checksums != nil {
		t.Fatalf("ParseComplete: %+v %v", parts, err)
	}
	for _, bad := range []string{
		"", "<CompleteMultipartUpload/>", "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><ChecksumSHA1>a</ChecksumSHA1><ChecksumSHA1>b</ChecksumSHA1></Part></CompleteMultipartUpload>",
		"<!DOCTYPE x [<!ENTITY a 'b'>]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&a;</ETag></Part></CompleteMultipartUpload>",
	} {
		if _, err := ParseComplete([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseComplete(%.70q): %v", bad, err)
		}
	}
}

// TestWriterParseRoundTrip builds request documents with the Writer and parses them back.
func TestWriterParseRoundTrip(t *testing.T) {
	keys := []string{"plain", "a<b", "ü日本", "sp ace", "&amp;"}
	var w Writer
	w.Open("Delete")
	for _, k := range keys {
		w.Open("Object")
		w.String("Key", k)
		w.Close("Object")
	}
	w.Close("Delete")
	d, err := ParseDelete(w.B)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if d.Objects[i].Key != k {
			t.Errorf("key %d: %q, want %q", i, d.Objects[i].Key, k)
		}
	}
	w.Reset()
	w.Open("CompleteMultipartUpload")
	for i := 1; i <= 3; i++ {
		w.Open("Part")
		w.Int("PartNumber", int64(i))
		w.ETag("ETag", fmt.Sprint("etag", i))
		w.Close("Part")
	}
	w.Close("CompleteMultipartUpload")
	parts, err := ParseComplete(w.B)
	if err != nil || len(parts) != 3 || parts[2].ETag != `"etag3"` {
		t.Fatalf("%+v %v", parts, err)
	}
}

func TestParseVersioning(t *testing.T) {
	good := map[string]Versioning{
		`<VersioningConfiguration/>`: {},
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>`: {Status: "Suspended"},
		`<VersioningConfiguration><Status> Enabled </Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`:                  {Status: "Enabled", MFADelete: "Disabled"},
	}
	for doc, want := range good {
		if got, err := ParseVersioning([]byte(doc)); err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", doc, got, err, want)
		}
	}
	for _, doc := range []string{
		``, `<Versioning/>`, `<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>`,
		`<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status></VersioningConfiguration>`,
		`<VersioningConfiguration><MfaDelete>On</MfaDelete></VersioningConfiguration>`,
		`<VersioningConfiguration><Status>Enabled</Status>`,
	} {
		if _, err := ParseVersioning([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", doc, err)
		}
	}
}

func TestParseTagging(t *testing.T) {
	good := map[string][]Tag{
		`<Tagging><TagSet/></Tagging>`: {},
		`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a b</Key><Value>&lt;</Value></Tag><Tag><Key>c</Key><Value/></Tag></TagSet></Tagging>`: {{"a b", "<"}, {"c", ""}},
	}
	for doc, want := range good {
		if got, err := ParseTagging([]byte(doc)); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, %v; want %v", doc, got, err, want)
		}
	}
	for _, doc := range []string{
		``, `<Tagging/>`, `<Tagging><TagSet/><TagSet/></Tagging>`, `<TagSet/>`,
		`<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>`,
		`<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>`,
		`<Tagging><TagSet><Tag><Key>a</Key><Key>b</Key><Value/></Tag></TagSet></Tagging>`,
		`<Tagging><TagSet>` + strings.Repeat(`<Tag><Key>a</Key><Value/></Tag>`, MaxTagsParsed+1) + `</TagSet></Tagging>`,
	} {
		if _, err := ParseTagging([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.80q: %v, want ErrMalformed", doc, err)
		}
	}
}

func TestParseACL(t *testing.T) {
	const xsi = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`
	doc := `<AccessControlPolicy><Owner><ID>o</ID><DisplayName>n</DisplayName></Owner><AccessControlList>` +
		`<Grant><Grantee ` + xsi + ` xsi:type="CanonicalUser"><ID>o</ID><DisplayName>n</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
		`<Grant><Grantee ` + xsi + ` xsi:type="Group"><URI>u</URI></Grantee><Permission>READ</Permission></Grant>` +
		`<Grant><Grantee ` + xsi + ` xsi:type="AmazonCustomerByEmail"><EmailAddress>e@x</EmailAddress></Grantee><Permission>WRITE_ACP</Permission></Grant>` +
		`</AccessControlList></AccessControlPolicy>`
	got, err := ParseACL([]byte(doc))
	want := ACL{OwnerID: "o", Grants: []Grant{{Type: "CanonicalUser", ID: "o", Permission: "FULL_CONTROL"}, {Type: "Group", URI: "u", Permission: "READ"},
		{Type: "AmazonCustomerByEmail", Email: "e@x", Permission: "WRITE_ACP"}}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{
		``, `<AccessControlPolicy/>`, `<AccessControlPolicy><AccessControlList/><AccessControlList/></AccessControlPolicy>`,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee ` + xsi + ` xsi:type="Robot"><ID>o</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee ` + xsi + ` xsi:type="Group"><ID>o</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee ` + xsi + ` xsi:type="Group"><URI>u</URI></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>`,
		`<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
		`<AccessControlPolicy><Owner/><AccessControlList/></AccessControlPolicy>`,
	} {
		if _, err := ParseACL([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.120q: %v, want ErrMalformed", bad, err)
		}
	}
}

func TestParseCORS(t *testing.T) {
	rules, err := ParseCORS([]byte(`<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>` +
		`<CORSRule><ID>two</ID><AllowedOrigin>https://a.example</AllowedOrigin><AllowedOrigin>http://*.b</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>DELETE</AllowedMethod>` +
		`<AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>`))
	want := []CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}, MaxAgeSeconds: -1},
		{ID: "two", AllowedMethods: []string{"PUT", "DELETE"}, AllowedOrigins: []string{"https://a.example", "http://*.b"}, AllowedHeaders: []string{"x-amz-*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 60}}
	if err != nil || fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Fatalf("got %+v, %v", rules, err)
	}
	for doc, wantErr := range map[string]error{
		`<CORSConfiguration/>`: ErrMalformed,
		`<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`:                                                                           ErrMalformed,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>`:                                                                             ErrMalformed,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>`:          ErrMalformed,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`:                                         ErrInvalidCORS,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`:                                         ErrInvalidCORS,
		`<CORSConfiguration>` + strings.Repeat(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`, MaxCORSRules+1) + `</CORSConfiguration>`: ErrMalformed,
	} {
		if _, err := ParseCORS([]byte(doc)); !errors.Is(err, wantErr) {
			t.Errorf("%.100q: %v, want %v", doc, err, wantErr)
		}
	}
}

func TestParseLifecycle(t *testing.T) {
	rule := func(body string) string {
		return `<LifecycleConfiguration><Rule>` + body + `</Rule></LifecycleConfiguration>`
	}
	const exp = `<Expiration><Days>1</Days></Expiration>`
	rules, err := ParseLifecycle([]byte(`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Rule><ID>logs</ID><Status>Enabled</Status><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>` +
		`<Expiration><Date>2027-01-01T00:00:00.000Z</Date></Expiration><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>` +
		`<Rule><Status>Disabled</Status><Prefix>tmp/</Prefix><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>` +
		`</LifecycleConfiguration>`))
	if err != nil || len(rules) != 2 || rules[0].ID != "logs" || !rules[0].Enabled || rules[0].Prefix != "logs/" || len(rules[0].Tags) != 1 ||
		rules[0].SizeLessThan != 100 || !rules[0].ExpirationDate.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || rules[0].NoncurrentDays != 5 ||
		rules[0].NewerNoncurrentVersions != 2 || rules[1].Enabled || rules[1].Prefix != "tmp/" || rules[1].AbortMultipartDays != 7 {
		t.Fatalf("got %+v, %v", rules, err)
	}
	for doc, want := range map[string]string{
		`<LifecycleConfiguration/>`:                              "MalformedXML",
		rule(`<Filter/>` + exp):                                  "MalformedXML",
		rule(`<Status>On</Status><Filter/>` + exp):               "MalformedXML",
		rule(`<Status>Enabled</Status>` + exp):                   "MalformedXML",
		rule(`<Status>Enabled</Status><Prefix/><Filter/>` + exp): "MalformedXML",
		rule(`<Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>` + exp):                                                                                      "MalformedXML",
		rule(`<Status>Enabled</Status><Filter><And><Prefix>a</Prefix></And></Filter>` + exp):                                                                                                                  "MalformedXML",
		rule(`<Status>Enabled</Status><Filter/><Expiration><Days>1</Days><Date>2027-01-01T00:00:00Z</Date></Expiration>`):                                                                                     "MalformedXML",
		rule(`<Status>Enabled</Status><Filter/>`):                                                                                                                                                             "InvalidRequest",
		rule(`<Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration>`):                                                                                                                      "InvalidArgument",
		rule(`<Status>Enabled</Status><Filter/><Expiration><Date>2027-01-01T10:00:00Z</Date></Expiration>`):                                                                                                   "InvalidArgument",
		rule(`<Status>Enabled</Status><Filter/><Expiration><Date>tomorrow</Date></Expiration>`):                                                                                                               "InvalidArgument",
		rule(`<Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>-1</NoncurrentDays></NoncurrentVersionExpiration>`):                                                               "InvalidArgument",
		rule(`<Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`): "InvalidRequest",
		rule(`<Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>` + exp):                                          "InvalidArgument",
		rule(`<Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>`):                                                                                  "NotImplemented",
		`<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Filter/>` + exp + `</Rule><Rule><ID>a</ID><Status>Enabled</Status><Filter/>` + exp + `</Rule></LifecycleConfiguration>`:             "InvalidArgument",
	} {
		_, err := ParseLifecycle([]byte(doc))
		var re *RuleError
		got := "nil"
		switch {
		case errors.Is(err, ErrMalformed):
			got = "MalformedXML"
		case errors.As(err, &re):
			got = re.Code
		}
		if got != want {
			t.Errorf("%s: %v, want %s", doc, err, want)
		}
	}
}
