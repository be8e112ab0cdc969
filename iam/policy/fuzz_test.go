package policy

import (
	"errors"
	"testing"
)

// FuzzParse: any input is parsed or refused with an *Error, never a panic, and a parsed
// policy can be decided against a request.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"StringLike":{"s3:prefix":"${aws:username}/*"}}}`),
		stmt(`{"Effect":"Deny","Principal":"*","NotAction":["s3:Get*"],"NotResource":"arn:aws:s3:::b/p/?","Condition":{"ForAllValues:NumericLessThan":{"s3:max-keys":5},"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}}`),
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":"*","Resource":"*","Condition":{"Null":{"a:b":true},"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}}}`,
		`{"Version":"2008-10-17","Id":"x","Statement":[]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, doc []byte, bucket bool) {
		kind := Identity
		if bucket {
			kind = Bucket
		}
		p, err := Parse(doc, kind, MaxBucketSize)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *policy.Error", err)
			}
			return
		}
		ctx := Values{"aws:username": {"a*?"}, "s3:prefix": {"x"}, "aws:sourceip": {"10.0.0.1"}, "s3:max-keys": {"3"}, "aws:currenttime": {"2025-01-01T00:00:00Z"}}
		p.Decide(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: "*", Context: ctx})
		_ = p.CheckBucketResources("b")
		checkCoverage(t, p)
	})
}

// checkCoverage checks what the decision cache relies on: a statement that Coverage says
// covers every request of a shape matches each of them, one it says covers none matches
// none, and the statement bound to the shape's static keys decides as the statement.
func checkCoverage(t *testing.T, p *Policy) {
	static := Values{"aws:username": {"alice"}}
	for _, action := range []string{"s3:GetObject", "s3:ListBucket"} {
		for _, objLevel := range []bool{true, false} {
			sh := &Shape{Action: action, Principal: "arn:aws:iam::000000000000:user/alice", PrincipalAccount: "000000000000", Static: static}
			resources := []string{"arn:aws:s3:::b"}
			if objLevel {
				sh.Prefix = "arn:aws:s3:::b/"
				resources = nil
				for _, k := range []string{"", "k", "alice/x", "home/alice/", "a*b", "p/?", "b/c/d"} {
					resources = append(resources, sh.Prefix+k)
				}
			} else {
				sh.Exact = "arn:aws:s3:::b"
			}
			for i := range p.Statements {
				s := &p.Statements[i]
				cov := s.Coverage(p, sh)
				for _, res := range resources {
					r := &Request{Action: action, Resource: res, Principal: sh.Principal, PrincipalAccount: sh.PrincipalAccount, Context: static}
					m := s.Matches(p, r)
					if cov == Always && !m || cov == Never && m {
						t.Fatalf("statement %d: Coverage %d but Matches(%s) = %v", i, cov, res, m)
					}
					if bm := s.Bind(p, static).Matches(p, r); bm != m {
						t.Fatalf("statement %d bound: Matches(%s) = %v, unbound %v", i, res, bm, m)
					}
				}
			}
		}
	}
}
