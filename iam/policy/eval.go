package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Decide decides r against the policy: Denied if a matching statement denies it, else
// Allowed if one allows it, else NoMatch.
func (p *Policy) Decide(r *Request) Decision {
	d := NoMatch
	for i := range p.Statements {
		s := &p.Statements[i]
		if (d == Allowed && s.Effect == Allow) || !s.Matches(p, r) {
			continue
		}
		if s.Effect == Deny {
			return Denied
		}
		d = Allowed
	}
	return d
}

// Matches reports whether the statement of p applies to r.
func (s *Statement) Matches(p *Policy, r *Request) bool {
	if p.kind != Identity && !s.principalMatches(r) {
		return false
	}
	if !s.ActionMatches(r.Action) {
		return false
	}
	vars := s.vars && p.Version == Version2012
	if !s.resourceMatches(r, vars) {
		return false
	}
	for i := range s.Conditions {
		if !s.Conditions[i].holds(r.Context, vars) {
			return false
		}
	}
	return true
}

// ActionMatches reports whether the statement's Action (or NotAction) covers action.
func (s *Statement) ActionMatches(action string) bool {
	hit := false
	for _, a := range s.Actions {
		if a == "*" || globMatch(a, action, true) {
			hit = true
			break
		}
	}
	return hit != s.NotAction
}

func (s *Statement) resourceMatches(r *Request, vars bool) bool {
	if len(s.Resources) == 0 {
		return true // a trust policy's statement without Resource: the role itself
	}
	hit := false
	for _, pat := range s.Resources {
		if vars {
			var ok bool
			if pat, ok = expand(pat, r.Context, true); !ok {
				continue
			}
		}
		if pat == "*" || globMatch(pat, r.Resource, false) {
			hit = true
			break
		}
	}
	return hit != s.NotResource
}

// principalMatches: "*" is everyone; an account's root ARN is every principal of the
// account; any other ARN names exactly one principal (or a role, all its sessions, which
// the request lists among its Principals).
func (s *Statement) principalMatches(r *Request) bool {
	hit := false
	for _, want := range s.Principals {
		if want == "*" {
			hit = true
			break
		}
		if acct, ok := strings.CutSuffix(strings.TrimPrefix(want, "arn:aws:iam::"), ":root"); ok && r.PrincipalAccount != "" && acct == r.PrincipalAccount && !strings.Contains(acct, ":") {
			hit = r.Principal != "*"
			if hit {
				break
			}
		}
		if want == r.Principal || contains(r.AltPrincipals, want) {
			hit = true
			break
		}
	}
	return hit != s.NotPrincipal
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// holds decides the condition against the request's context.
func (c *Condition) holds(ctx Context, vars bool) bool {
	vals, ok := lookup(ctx, c.Key)
	present := ok && len(vals) > 0
	if c.Op == Null {
		return strings.EqualFold(c.Values[0], "true") == !present
	}
	if !present {
		switch {
		case c.IfExists, c.Set == ForAllValues:
			return true
		case c.Set == ForAnyValue:
			return false
		}
		return c.Op.negated()
	}
	switch c.Set {
	case ForAllValues:
		for _, v := range vals {
			if !c.matchOne(v, ctx, vars) {
				return false
			}
		}
		return true
	default:
		// A single-valued key has one value; a multivalued key without a qualifier is
		// decided as ForAnyValue.
		for _, v := range vals {
			if c.matchOne(v, ctx, vars) {
				return true
			}
		}
		return false
	}
}

// matchOne compares one request value with the condition's values: any of them for a
// positive operator, none of them for a negated one.
func (c *Condition) matchOne(v string, ctx Context, vars bool) bool {
	hit := false
	for i, want := range c.Values {
		if c.cmp(i, want, v, ctx, vars) {
			hit = true
			break
		}
	}
	if c.Op.negated() {
		// A value that cannot be compared (a number that is not one) matches neither way.
		if !c.comparable(v) {
			return false
		}
		return !hit
	}
	return hit
}

func (c *Condition) comparable(v string) bool {
	switch {
	case c.Op >= NumericEquals && c.Op <= NumericGreaterThanEquals:
		_, err := strconv.ParseFloat(v, 64)
		return err == nil
	case c.Op >= DateEquals && c.Op <= DateGreaterThanEquals:
		_, ok := parseDate(v)
		return ok
	case c.Op == IPAddress || c.Op == NotIPAddress:
		_, err := netip.ParseAddr(v)
		return err == nil
	}
	return true
}

// cmp compares request value v with the condition's i-th value want, ignoring negation.
func (c *Condition) cmp(i int, want, v string, ctx Context, vars bool) bool {
	switch c.Op {
	case StringEquals, StringNotEquals, ArnEquals, ArnNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase:
		if vars {
			var ok bool
			if want, ok = expand(want, ctx, false); !ok {
				return false
			}
		}
		if c.Op == StringEqualsIgnoreCase || c.Op == StringNotEqualsIgnoreCase {
			return strings.EqualFold(want, v)
		}
		return want == v
	case StringLike, StringNotLike, ArnLike, ArnNotLike:
		if vars {
			var ok bool
			if want, ok = expand(want, ctx, true); !ok {
				return false
			}
		}
		return globMatch(want, v, false)
	case Bool:
		return strings.EqualFold(want, v)
	case NumericEquals, NumericNotEquals, NumericLessThan, NumericLessThanEquals, NumericGreaterThan, NumericGreaterThanEquals:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		return order(c.Op-NumericEquals, cmpFloat(f, c.nums[i]))
	case DateEquals, DateNotEquals, DateLessThan, DateLessThanEquals, DateGreaterThan, DateGreaterThanEquals:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		return order(c.Op-DateEquals, t.Compare(c.times[i]))
	case IPAddress, NotIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		return c.nets[i].Contains(a.Unmap())
	}
	return false
}

// order applies the comparison at offset rel (Equals, NotEquals, LessThan, LessThanEquals,
// GreaterThan, GreaterThanEquals) to a three-way result; NotEquals compares as Equals,
// its negation is applied by the caller.
func order(rel Op, c int) bool {
	switch rel {
	case 0, 1:
		return c == 0
	case 2:
		return c < 0
	case 3:
		return c <= 0
	case 4:
		return c > 0
	case 5:
		return c >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FormatTime formats t as aws:CurrentTime holds it.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
