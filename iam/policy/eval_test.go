package policy

import (
	"testing"
)

func mustParse(t testing.TB, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), kind, 0)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func stmt(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }

// TestDecide checks evaluation against the semantics the AWS IAM User Guide documents
// (policy evaluation logic, condition operators, policy variables).
func TestDecide(t *testing.T) {
	alice := Values{"aws:username": {"alice"}, "aws:userid": {"AIDAALICE"}, "aws:sourceip": {"10.1.2.3"},
		"aws:securetransport": {"false"}, "aws:currenttime": {"2026-12-04T12:00:00Z"}, "aws:epochtime": {"1796385600"}}
	withPrefix := func(prefix string) Values {
		v := Values{"aws:username": {"alice"}}
		if prefix != "\x00" {
			v["s3:prefix"] = []string{prefix}
		}
		return v
	}
	cases := []struct {
		name string
		doc  string
		kind Kind
		req  Request
		want Decision
	}{
		{"allow exact", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"action case-insensitive", stmt(`{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"resource case-sensitive", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/K"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, NoMatch},
		{"other action", stmt(`{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, NoMatch},
		{"star wildcard spans slashes", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/home/x/y/z"}, Allowed},
		{"question mark one char", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/log-?.txt"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/log-12.txt"}, NoMatch},
		{"explicit deny wins", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}`), Identity,
			Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::b/k"}, Denied},
		{"deny listed first still wins", stmt(`{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b/secret/*"},{"Effect":"Allow","Action":"s3:*","Resource":"*"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/secret/x"}, Denied},
		{"notaction", stmt(`{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}`), Identity,
			Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::b/k"}, NoMatch},
		{"notaction allows the rest", stmt(`{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"notresource", stmt(`{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/public/*"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/private"}, Denied},
		{"username variable", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/home/alice/f", Context: alice}, Allowed},
		{"username variable other home", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/home/bob/f", Context: alice}, NoMatch},
		{"variable missing matches nothing", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/${aws:username}/f"}, NoMatch},
		{"variable default", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, 'anon'}/*"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/anon/f"}, Allowed},
		{"variables literal in 2008 version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/${aws:username}/f", Context: alice}, Allowed},
		{"${*} is a literal star", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/a${*}b"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/axxb"}, NoMatch},
		{"${*} matches a star", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/a${*}b"}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/a*b"}, Allowed},
		{"prefix condition", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*","home/${aws:username}"]}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: withPrefix("home/alice/docs")}, Allowed},
		{"prefix condition other", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: withPrefix("home/bob/")}, NoMatch},
		{"prefix condition key missing", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"home/*"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: withPrefix("\x00")}, NoMatch},
		{"negated operator key missing is true", stmt(`{"Effect":"Deny","Action":"s3:ListBucket","Resource":"*","Condition":{"StringNotLike":{"s3:prefix":"pub/*"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: withPrefix("\x00")}, Denied},
		{"negated values are NOR", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:username":["bob","alice"]}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, NoMatch},
		{"ifexists key missing", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"ifexists key present", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: Values{"s3:x-amz-acl": {"public-read"}}}, NoMatch},
		{"ignorecase", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"source ip in cidr", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"source ip not in cidr", stmt(`{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.168.0.0/16","10.1.2.3"]}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, NoMatch},
		{"ipv6", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: Values{"aws:sourceip": {"2001:db8::1"}}}, Allowed},
		{"deny insecure transport", stmt(`{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Action":"s3:*","Resource":"*"}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Denied},
		{"numeric max-keys", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":"100"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: Values{"s3:max-keys": {"1000"}}}, NoMatch},
		{"numeric max-keys within", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":"100"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: Values{"s3:max-keys": {"100"}}}, Allowed},
		{"numeric not a number", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericNotEquals":{"s3:max-keys":"100"}}}`), Identity,
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: Values{"s3:max-keys": {"many"}}}, NoMatch},
		{"date before", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"date after", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, NoMatch},
		{"date epoch", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThanEquals":{"aws:EpochTime":"1796385600"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"null true when absent", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"s3:x-amz-acl":"true"}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: alice}, Allowed},
		{"null false when absent", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"s3:x-amz-acl":false}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: alice}, NoMatch},
		{"conditions AND", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"192.168.0.0/16"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: alice}, NoMatch},
		{"existing object tag", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"public"}}}`), Identity,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: Values{"s3:existingobjecttag/class": {"public"}}}, Allowed},
		{"forallvalues empty is true", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"forallvalues one outside", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: Values{"aws:tagkeys": {"a", "c"}}}, NoMatch},
		{"foranyvalue one inside", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Context: Values{"aws:tagkeys": {"x", "b"}}}, Allowed},
		{"foranyvalue absent is false", stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}}`), Identity,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, NoMatch},
		{"bucket anonymous star", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/pub/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/pub/x", Principal: "*"}, Allowed},
		{"bucket anonymous AWS star", stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/pub/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/pub/x", Principal: "*"}, Allowed},
		{"bucket principal user", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x", Principal: "arn:aws:iam::000000000000:user/bob", PrincipalAccount: "000000000000"}, NoMatch},
		{"bucket principal account", stmt(`{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x", Principal: "arn:aws:iam::000000000000:user/bob", PrincipalAccount: "000000000000"}, Allowed},
		{"bucket account excludes anonymous", stmt(`{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x", Principal: "*", PrincipalAccount: ""}, NoMatch},
		{"bucket role covers its sessions", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/r"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x", Principal: "arn:aws:sts::000000000000:assumed-role/r/s", AltPrincipals: []string{"arn:aws:iam::000000000000:role/r"}}, Allowed},
		{"bucket notprincipal", stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), Bucket,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x", Principal: "arn:aws:iam::000000000000:user/bob"}, Denied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, c.doc, c.kind)
			if got := p.Decide(&c.req); got != c.want {
				t.Fatalf("Decide = %v, want %v", got, c.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"a*", "a", true}, {"a*b", "ab", true}, {"a*b", "axxbxb", true}, {"a*b", "axxbx", false},
		{"?", "", false}, {"a?c", "abc", true}, {"a?c", "ac", false}, {"**a", "ba", true}, {"a\x00*", "a*", true},
		{"a\x00*", "ab", false}, {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pat, c.s, false); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.s, got)
		}
	}
}
