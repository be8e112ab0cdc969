package identity

import (
	"sort"

	"github.com/flashstor/flashstor/iam/policy"
)

// Kind is the kind of a Principal.
type Kind uint8

// The kinds of principal.
const (
	Anonymous Kind = iota
	// Root is the deployment's root user: everything is allowed to it.
	Root
	// UserKind is an IAM user, signing with one of its access keys.
	UserKind
	// SessionKind holds STS temporary credentials: a user's (GetSessionToken) or a role's
	// (AssumeRole).
	SessionKind
)

// Principal is who a request runs as, with everything authorisation needs to know of
// it. It is immutable.
type Principal struct {
	Kind Kind
	// ARN is the principal's ARN ("*" for anonymous); AltARNs are others it answers to
	// in a bucket policy (a role session: its role).
	ARN     string
	AltARNs []string
	Account string
	// Name and ID are aws:username and aws:userid (a role session has no username).
	Name, ID string
	// Policies are its identity policies: the user's inline and attached ones and those of
	// its groups, or the role's.
	Policies []*policy.Policy
}

// keyEntry is what an access key resolves to.
type keyEntry struct {
	secret    string
	principal *Principal
}

// Snapshot is the identities at one epoch; immutable, so requests read it without locks.
type Snapshot struct {
	// Epoch counts the changes published before this snapshot.
	Epoch   uint64
	account string
	st      *state
	// keys holds the active access keys only: an inactive or deleted key is unknown.
	keys       map[string]keyEntry
	users      map[string]*Principal
	usersByID  map[string]*Principal
	roles      map[string]*rolePolicies
	policyDocs map[string]*policy.Policy
}

// rolePolicies is a role as AssumeRole needs it.
type rolePolicies struct {
	role      *Role
	trust     *policy.Policy
	principal *Principal // the role's own permissions (ARN is the role's)
}

// Lookup returns the secret and principal of an active access key. It does not allocate.
func (s *Snapshot) Lookup(accessKey []byte) (string, *Principal, bool) {
	e, ok := s.keys[string(accessKey)]
	return e.secret, e.principal, ok
}

// User returns the principal of the user name.
func (s *Snapshot) User(name string) (*Principal, bool) {
	p, ok := s.users[name]
	return p, ok
}

// UserByID returns the principal of the user whose unique id is id: a user deleted and
// created again under the same name has another id.
func (s *Snapshot) UserByID(id string) (*Principal, bool) {
	p, ok := s.usersByID[id]
	return p, ok
}

// Role returns the role name, its trust policy and its permissions as a principal whose
// ARN is the role's.
func (s *Snapshot) Role(name string) (*Role, *policy.Policy, *Principal, bool) {
	r, ok := s.roles[name]
	if !ok {
		return nil, nil, nil, false
	}
	return r.role, r.trust, r.principal, true
}

// Account returns the account id of every ARN.
func (s *Snapshot) Account() string { return s.account }

// UserARN returns the ARN of user name at path.
func UserARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":user" + path + name
}

// GroupARN returns the ARN of a group.
func GroupARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":group" + path + name
}

// PolicyARN returns the ARN of a managed policy.
func PolicyARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":policy" + path + name
}

// RoleARN returns the ARN of a role.
func RoleARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":role" + path + name
}

// buildSnapshot derives the read view of st. Every document in st was parsed when it was
// stored; one that no longer parses (a stored document edited by hand) is left out, which
// denies what it allowed rather than allowing what it denied... except Deny statements,
// which are lost with it: such a document is reported by the Manager when it loads.
func buildSnapshot(epoch uint64, account string, st *state, secrets map[string]string) *Snapshot {
	s := &Snapshot{Epoch: epoch, account: account, st: st, keys: map[string]keyEntry{}, users: map[string]*Principal{},
		usersByID: map[string]*Principal{}, roles: map[string]*rolePolicies{}, policyDocs: map[string]*policy.Policy{}}
	for name, mp := range st.Policies {
		if p, err := policy.Parse([]byte(mp.Document), policy.Identity, 0); err == nil {
			s.policyDocs[name] = p
		}
	}
	inline := func(docs map[string]string) []*policy.Policy {
		var out []*policy.Policy
		for _, name := range sortedNames(docs) {
			if p, err := policy.Parse([]byte(docs[name]), policy.Identity, 0); err == nil {
				out = append(out, p)
			}
		}
		return out
	}
	attached := func(names []string) []*policy.Policy {
		var out []*policy.Policy
		for _, n := range names {
			if p := s.policyDocs[n]; p != nil {
				out = append(out, p)
			}
		}
		return out
	}
	for name, u := range st.Users {
		pols := append(inline(u.Inline), attached(u.Attached)...)
		for _, g := range u.Groups {
			if grp := st.Groups[g]; grp != nil {
				pols = append(pols, inline(grp.Inline)...)
				pols = append(pols, attached(grp.Attached)...)
			}
		}
		p := &Principal{Kind: UserKind, ARN: UserARN(account, u.Path, name), Account: account, Name: name, ID: u.ID, Policies: pols}
		s.users[name] = p
		s.usersByID[u.ID] = p
		for _, k := range u.Keys {
			if k.Status == StatusActive {
				if secret, ok := secrets[k.ID]; ok {
					s.keys[k.ID] = keyEntry{secret: secret, principal: p}
				}
			}
		}
	}
	for name, r := range st.Roles {
		trust, err := policy.Parse([]byte(r.Trust), policy.Trust, 0)
		if err != nil {
			continue
		}
		pols := append(inline(r.Inline), attached(r.Attached)...)
		s.roles[name] = &rolePolicies{role: r, trust: trust,
			principal: &Principal{Kind: SessionKind, ARN: RoleARN(account, r.Path, name), Account: account, ID: r.ID, Policies: pols}}
	}
	return s
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
