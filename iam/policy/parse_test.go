package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/` + strings.Repeat("k", MaxManagedSize) + `"}]}`
	cases := []struct {
		name, doc string
		kind      Kind
		max       int
		want      string
	}{
		{"not json", `Effect: Allow`, Identity, 0, "first byte must be '{'"},
		{"truncated", `{"Statement":[`, Identity, 0, "valid JSON"},
		{"trailing data", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}`, Identity, 0, "data after"},
		{"unknown top element", `{"Version":"2012-10-17","Statment":[]}`, Identity, 0, "Unknown field Statment"},
		{"bad version", `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, Identity, 0, "valid version"},
		{"no statement", `{"Version":"2012-10-17"}`, Identity, 0, "Missing required field Statement"},
		{"empty statement", `{"Statement":[]}`, Identity, 0, "Statement is empty"},
		{"bad effect", `{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`, Identity, 0, "Invalid effect: Permit"},
		{"lower-case effect", `{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, Identity, 0, "Invalid effect: allow"},
		{"no effect", `{"Statement":[{"Action":"*","Resource":"*"}]}`, Identity, 0, "Missing required field Effect"},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, Identity, 0, "Missing required field Action"},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"*"}]}`, Identity, 0, "Missing required field Resource"},
		{"action and notaction", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, Identity, 0, "Action or NotAction"},
		{"unknown statement element", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Foo":1}]}`, Identity, 0, "Unknown field Foo"},
		{"bad action", `{"Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`, Identity, 0, "invalid action"},
		{"bad resource", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket/key"}]}`, Identity, 0, "invalid resource"},
		{"short arn", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3"}]}`, Identity, 0, "invalid resource"},
		{"empty action list", `{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, Identity, 0, "Action must not be empty"},
		{"principal in identity policy", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, Identity, 0, "should not specify a principal"},
		{"bucket policy without principal", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`, Bucket, 0, "Missing required field Principal"},
		{"bad principal", `{"Statement":[{"Effect":"Allow","Principal":"alice","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`, Bucket, 0, "Invalid principal"},
		{"bad principal arn", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::x"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`, Bucket, 0, "Invalid principal"},
		{"unknown principal type", `{"Statement":[{"Effect":"Allow","Principal":{"Alien":"x"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`, Bucket, 0, "unknown principal type"},
		{"unknown operator", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSortOf":{"aws:username":"a"}}}]}`, Identity, 0, "Invalid Condition type : StringSortOf"},
		{"null ifexists", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}]}`, Identity, 0, "Invalid Condition type"},
		{"bad condition key", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}]}`, Identity, 0, "invalid condition key"},
		{"bad number", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}`, Identity, 0, "Invalid numeric value"},
		{"bad date", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}]}`, Identity, 0, "Invalid date value"},
		{"bad cidr", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]}`, Identity, 0, "Invalid IP address"},
		{"bad bool", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}`, Identity, 0, "Invalid boolean"},
		{"duplicate sid", `{"Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"*","Resource":"*"}]}`, Identity, 0, "must be unique"},
		{"oversized managed", big, Identity, MaxManagedSize, "maximum allowed size of 6144"},
		{"oversized bucket", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/` + strings.Repeat("k", MaxBucketSize) + `"}]}`, Bucket, MaxBucketSize, "maximum allowed size of 20480"},
		{"statement not object", `{"Statement":["x"]}`, Identity, 0, "must be an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), c.kind, c.max)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *policy.Error", err)
			}
			if !strings.Contains(pe.Message, c.want) {
				t.Fatalf("message %q, want it to contain %q", pe.Message, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	// Whitespace does not count towards an identity policy's size, as in IAM.
	padded := `{"Version":"2012-10-17",` + strings.Repeat(" ", 2*MaxManagedSize) + `"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`
	p, err := Parse([]byte(padded), Identity, MaxManagedSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Statements) != 1 || p.Statements[0].Actions[0] != "s3:*" {
		t.Fatalf("statements %+v", p.Statements)
	}
	// An account id as principal is the account's root.
	p, err = Parse([]byte(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThanEquals":{"s3:max-keys":10}}}]}`), Bucket, MaxBucketSize)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Statements[0].Principals[0]; got != "arn:aws:iam::123456789012:root" {
		t.Fatalf("principal %q", got)
	}
	if p.Version != Version2008 || len(p.Statements[0].Conditions) != 2 {
		t.Fatalf("version %q conditions %+v", p.Version, p.Statements[0].Conditions)
	}
	if err := p.CheckBucketResources("b"); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckBucketResources("other"); err == nil {
		t.Fatal("a resource of bucket b passed as one of bucket other")
	}
}

func TestTrustPolicy(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:AssumeRole"}]}`), Trust, MaxManagedSize)
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::000000000000:role/r", Principal: "arn:aws:iam::000000000000:user/alice"}
	if d := p.Decide(r); d != Allowed {
		t.Fatalf("alice: %v", d)
	}
	r.Principal = "arn:aws:iam::000000000000:user/bob"
	if d := p.Decide(r); d != NoMatch {
		t.Fatalf("bob: %v", d)
	}
	if _, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`), Trust, 0); err == nil {
		t.Fatal("a trust policy without Principal parsed")
	}
}
