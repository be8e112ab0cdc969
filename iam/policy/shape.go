package policy

import "strings"

// Coverage is how a statement relates to a request shape: all the requests of the shape,
// none of them, or some, which only the request itself decides.
type Coverage uint8

const (
	// Never: the statement applies to no request of the shape.
	Never Coverage = iota
	// Maybe: it depends on the request (its key, its condition keys).
	Maybe
	// Always: it applies to every request of the shape.
	Always
)

// Shape is what a class of requests has in common: one principal, one action, and a
// resource that is either exact (a bucket) or any key under a prefix (the objects of a
// bucket). A decision cache keeps one entry per shape.
type Shape struct {
	Action           string
	Principal        string
	AltPrincipals    []string
	PrincipalAccount string
	// Static holds the condition keys that are the same for every request of the shape
	// (aws:username, aws:userid): the policy variables that only use them are resolved
	// once.
	Static Context
	// Exact is the resource when Prefix is empty; otherwise every resource of the shape
	// begins with Prefix.
	Exact, Prefix string
}

// Coverage tells how statement s of p covers the requests of sh.
func (s *Statement) Coverage(p *Policy, sh *Shape) Coverage {
	if p.kind != Identity && !s.principalMatches(&Request{Principal: sh.Principal, AltPrincipals: sh.AltPrincipals, PrincipalAccount: sh.PrincipalAccount}) {
		return Never
	}
	if !s.ActionMatches(sh.Action) {
		return Never
	}
	vars := s.vars && p.Version == Version2012
	c := Never
	if len(s.Resources) == 0 {
		c = Always
	}
	for _, pat := range s.Resources {
		pc := patternCoverage(pat, sh, vars)
		c = max(c, pc)
		if c == Always {
			break
		}
	}
	if s.NotResource {
		c = Always - c
	}
	if c != Never && len(s.Conditions) > 0 {
		return Maybe
	}
	return c
}

func patternCoverage(pat string, sh *Shape, vars bool) Coverage {
	if vars {
		var ok bool
		if pat, ok = expand(pat, sh.Static, true); !ok {
			// A variable of the request itself: only the request can tell.
			return Maybe
		}
	}
	if pat == "*" {
		return Always
	}
	if sh.Prefix == "" {
		if globMatch(pat, sh.Exact, false) {
			return Always
		}
		return Never
	}
	n := len(pat)
	if n > 0 && pat[n-1] == '*' && (n < 2 || pat[n-2] != escape) && globMatch(pat, sh.Prefix, false) {
		// A trailing star that matches the prefix absorbs any key after it.
		return Always
	}
	if canExtend(pat, sh.Prefix) {
		return Maybe
	}
	return Never
}

// canExtend reports whether some string that begins with prefix matches pattern: the
// pattern's matcher, run over prefix as a set of positions, still has a position left.
func canExtend(pattern, prefix string) bool {
	cur := make([]bool, len(pattern)+1)
	next := make([]bool, len(pattern)+1)
	cur[0] = true
	closeStars(pattern, cur)
	for i := 0; i < len(prefix); i++ {
		clear(next)
		alive := false
		for p := 0; p < len(pattern); p++ {
			if !cur[p] {
				continue
			}
			switch c := pattern[p]; {
			case c == '*':
				next[p] = true
			case c == '?':
				next[p+1] = true
			case c == escape && p+1 < len(pattern):
				if pattern[p+1] == prefix[i] {
					next[p+2] = true
				}
			case c == prefix[i]:
				next[p+1] = true
			}
		}
		closeStars(pattern, next)
		for _, b := range next {
			alive = alive || b
		}
		if !alive {
			return false
		}
		cur, next = next, cur
	}
	return true
}

// closeStars adds, for every position at a '*', the position after it (the star
// matching nothing).
func closeStars(pattern string, set []bool) {
	for p := 0; p < len(pattern); p++ {
		if set[p] && pattern[p] == '*' {
			set[p+1] = true
		}
	}
}

// Bind returns a copy of statement s of p whose Resource patterns have the policy
// variables that static resolves substituted once, so that deciding a request of the
// shape does not substitute them again.
func (s *Statement) Bind(p *Policy, static Context) *Statement {
	b := *s
	if !s.vars || p.Version != Version2012 {
		return &b
	}
	b.Resources = make([]string, len(s.Resources))
	vars := false
	for i, pat := range s.Resources {
		if exp, ok := expand(pat, static, true); ok && strings.Contains(pat, "${") {
			pat = exp
		}
		b.Resources[i] = pat
		vars = vars || strings.Contains(pat, "${")
	}
	for _, c := range s.Conditions {
		for _, v := range c.Values {
			vars = vars || strings.Contains(v, "${")
		}
	}
	b.vars = vars
	return &b
}
