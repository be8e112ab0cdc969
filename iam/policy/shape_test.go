package policy

import "testing"

func TestCoverage(t *testing.T) {
	alice := Values{"aws:username": {"alice"}}
	obj := func(action string) *Shape {
		return &Shape{Action: action, Principal: "arn:aws:iam::000000000000:user/alice", PrincipalAccount: "000000000000", Static: alice, Prefix: "arn:aws:s3:::b/"}
	}
	bucket := &Shape{Action: "s3:ListBucket", Static: alice, Exact: "arn:aws:s3:::b"}
	cases := []struct {
		name string
		stmt string
		sh   *Shape
		want Coverage
	}{
		{"whole bucket", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`, obj("s3:GetObject"), Always},
		{"star", `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, obj("s3:GetObject"), Always},
		{"bucket star", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b*"}`, obj("s3:GetObject"), Always},
		{"other action", `{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}`, obj("s3:GetObject"), Never},
		{"prefix", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/*"}`, obj("s3:GetObject"), Maybe},
		{"other bucket", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::c/*"}`, obj("s3:GetObject"), Never},
		{"longer bucket name", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bb/*"}`, obj("s3:GetObject"), Never},
		{"username home", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}`, obj("s3:GetObject"), Maybe},
		{"username bucket", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*"}`, obj("s3:GetObject"), Never},
		{"request variable", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${s3:prefix}"}`, obj("s3:GetObject"), Maybe},
		{"condition", `{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`, obj("s3:GetObject"), Maybe},
		{"notresource other", `{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::c/*"}`, obj("s3:GetObject"), Always},
		{"notresource prefix", `{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/pub/*"}`, obj("s3:GetObject"), Maybe},
		{"bucket exact", `{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}`, bucket, Always},
		{"bucket objects only", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`, bucket, Never},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, stmt(c.stmt), Identity)
			if got := p.Statements[0].Coverage(p, c.sh); got != c.want {
				t.Fatalf("Coverage = %d, want %d", got, c.want)
			}
		})
	}
	if !canExtend("a*b?c", "axxbyc") || canExtend("ab", "ac") || !canExtend("a?", "ab") || canExtend("a", "ab") {
		t.Fatal("canExtend")
	}
}
