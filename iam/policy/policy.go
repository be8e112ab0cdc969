package policy

import (
	"strings"
)

// Kind says what a document is attached to, which decides the elements it may have and
// its size limit.
type Kind uint8

const (
	// Identity is a policy attached to a user, a group or a role, or passed as a session
	// policy: it has no Principal.
	Identity Kind = iota
	// Bucket is an S3 bucket policy: every statement names its Principal or NotPrincipal.
	Bucket
	// Trust is a role's trust policy: a resource policy (Principal required) whose
	// resource is the role itself, so Resource may be left out.
	Trust
)

// The size limits AWS applies: a managed policy (or a role's trust policy) is at most
// 6,144 characters without whitespace, an inline user policy 2,048, a bucket policy 20 KiB.
const (
	MaxManagedSize = 6144
	MaxInlineSize  = 2048
	MaxBucketSize  = 20 << 10
)

// The versions of the language. Policy variables are replaced only in 2012-10-17
// policies; in the older version "${...}" is literal text, as AWS treats it.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed policy document. It is immutable once parsed and safe for concurrent
// use.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
	kind       Kind
}

// Effect is a statement's Effect.
type Effect uint8

const (
	// Allow grants what the statement matches.
	Allow Effect = iota + 1
	// Deny refuses it, whatever else allows it.
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "?"
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect Effect
	// Principals is the Principal element (NotPrincipal when NotPrincipal is set); nil in
	// identity policies. "*" stands for everyone, anonymous included.
	Principals   []string
	NotPrincipal bool
	// Actions are the Action patterns, lower case (NotAction when NotAction is set).
	Actions   []string
	NotAction bool
	// Resources are the Resource patterns (NotResource when NotResource is set).
	Resources   []string
	NotResource bool
	Conditions  []Condition
	// vars tells that a Resource or a condition value holds a policy variable.
	vars bool
}

// HasConditions reports whether any statement has a Condition: such a policy's decision
// depends on more than the principal, the action and the resource.
func (p *Policy) HasConditions() bool {
	for i := range p.Statements {
		if len(p.Statements[i].Conditions) > 0 {
			return true
		}
	}
	return false
}

// Kind returns what the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// Decision is the outcome of deciding a request against policies.
type Decision uint8

const (
	// NoMatch is the implicit deny: no statement applies.
	NoMatch Decision = iota
	// Allowed: a statement allows it and none denies it.
	Allowed
	// Denied: a statement denies it explicitly.
	Denied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case Denied:
		return "Deny"
	}
	return "NoMatch"
}

// Combine merges two decisions of the same request: Denied wins, then Allowed.
func Combine(a, b Decision) Decision { return max(a, b) }

// Request is what a policy is decided against.
type Request struct {
	// Action is the service action, like "s3:GetObject" (matched case-insensitively).
	Action string
	// Resource is the resource ARN, like "arn:aws:s3:::bucket/key".
	Resource string
	// Principal is the caller's ARN ("arn:aws:iam::123456789012:user/alice"), "*" for an
	// anonymous caller. Only bucket policies look at it.
	Principal string
	// AltPrincipals are other ARNs the caller answers to: a role session answers to its
	// role's ARN too.
	AltPrincipals []string
	// PrincipalAccount is the caller's account id; a Principal naming the account
	// ("123456789012" or "arn:aws:iam::123456789012:root") matches all its principals.
	PrincipalAccount string
	// Context holds the condition keys and the policy variables.
	Context Context
}

// Context resolves condition keys (and the policy variables, which are condition keys).
type Context interface {
	// Values returns the values of the key, whose name is given in lower case, and whether
	// the request has it at all.
	Values(key string) ([]string, bool)
}

// Values is a Context over a map from lower-case key to values.
type Values map[string][]string

// Values implements Context.
func (v Values) Values(key string) ([]string, bool) {
	vals, ok := v[key]
	return vals, ok
}

// Set sets key (any case) to vals.
func (v Values) Set(key string, vals ...string) { v[strings.ToLower(key)] = vals }

// CheckBucketResources refuses a bucket policy whose Resource or NotResource names
// anything outside the bucket, as S3 does.
func (p *Policy) CheckBucketResources(bucket string) error {
	arn := "arn:aws:s3:::" + bucket
	for _, st := range p.Statements {
		for _, r := range st.Resources {
			if r != arn && !strings.HasPrefix(r, arn+"/") {
				return malformed("Policy has invalid resource: %q is not in bucket %s", r, bucket)
			}
		}
		for _, a := range st.Actions {
			if a != "*" && !strings.HasPrefix(a, "s3:") {
				return malformed("Policy has invalid action: %q", a)
			}
		}
	}
	return nil
}
