package identity

import (
	"encoding/json"
	"fmt"
	"time"
)

// stateVersion is the version of the stored document. A newer binary reads every older
// version; version 1 is the first.
const stateVersion = 1

// state is the stored document: every identity, with secrets sealed.
type state struct {
	Version int `json:"version"`
	// SealCheck is the Sealer's check value: a wrong root secret is told at once.
	SealCheck string            `json:"sealCheck"`
	Users     map[string]*User  `json:"users"`
	Groups    map[string]*Group `json:"groups"`
	// Policies are keyed by name (a deployment has one path namespace per name, as IAM
	// names are unique per account).
	Policies map[string]*ManagedPolicy `json:"policies"`
	Roles    map[string]*Role          `json:"roles"`
}

// User is an IAM user.
type User struct {
	Name    string      `json:"name"`
	ID      string      `json:"id"`
	Path    string      `json:"path"`
	Created time.Time   `json:"created"`
	Keys    []AccessKey `json:"keys,omitempty"`
	// Groups are the names of the groups the user is in.
	Groups []string `json:"groups,omitempty"`
	// Attached are the names of the managed policies attached to the user.
	Attached []string `json:"attached,omitempty"`
	// Inline are the user's inline policies by name.
	Inline map[string]string `json:"inline,omitempty"`
}

// AccessKey is one access key of a user. Its secret is in the Snapshot only; the stored
// document has it sealed.
type AccessKey struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"` // StatusActive or StatusInactive
	Created time.Time `json:"created"`
	Sealed  string    `json:"sealed"`
	// Secret is the secret key: set when the key is created (to hand it out once) and in
	// the Snapshot; never stored in the clear.
	Secret string `json:"-"`
}

// The status of an access key.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Group is an IAM group.
type Group struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Path     string            `json:"path"`
	Created  time.Time         `json:"created"`
	Attached []string          `json:"attached,omitempty"`
	Inline   map[string]string `json:"inline,omitempty"`
}

// ManagedPolicy is a customer managed policy (one version, v1, which IAM's tools read
// through GetPolicyVersion).
type ManagedPolicy struct {
	Name        string    `json:"name"`
	ID          string    `json:"id"`
	Path        string    `json:"path"`
	Description string    `json:"description,omitempty"`
	Document    string    `json:"document"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Role is an IAM role, assumed through STS AssumeRole.
type Role struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Path    string    `json:"path"`
	Created time.Time `json:"created"`
	// Trust is the role's trust policy: who may assume it.
	Trust              string            `json:"trust"`
	MaxSessionDuration int               `json:"maxSessionDuration"` // seconds
	Description        string            `json:"description,omitempty"`
	Attached           []string          `json:"attached,omitempty"`
	Inline             map[string]string `json:"inline,omitempty"`
}

func newState(check string) *state {
	return &state{Version: stateVersion, SealCheck: check, Users: map[string]*User{}, Groups: map[string]*Group{},
		Policies: map[string]*ManagedPolicy{}, Roles: map[string]*Role{}}
}

// decodeState reads a stored document of any version this binary knows.
func decodeState(doc []byte) (*state, error) {
	var st state
	if err := json.Unmarshal(doc, &st); err != nil {
		return nil, fmt.Errorf("identity: stored document: %w", err)
	}
	if st.Version < 1 || st.Version > stateVersion {
		return nil, fmt.Errorf("identity: stored document has version %d; this binary reads 1 to %d", st.Version, stateVersion)
	}
	if st.Users == nil {
		st.Users = map[string]*User{}
	}
	if st.Groups == nil {
		st.Groups = map[string]*Group{}
	}
	if st.Policies == nil {
		st.Policies = map[string]*ManagedPolicy{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*Role{}
	}
	return &st, nil
}

// hasKeys reports whether any user has an access key (a sealed secret).
func (s *state) hasKeys() bool {
	for _, u := range s.Users {
		if len(u.Keys) > 0 {
			return true
		}
	}
	return false
}

// clone deep-copies the state through its encoding, which is what a change starts from.
// Secrets are not in the encoding: the Manager keeps them beside it.
func (s *state) clone() *state {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a state of plain values always encodes
	}
	c, err := decodeState(b)
	if err != nil {
		panic(err)
	}
	return c
}
