package identity

import (
	"context"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/iam/policy"
)

// validName checks an IAM name: 1 to max characters of letters, digits and +=,.@_-.
func validName(kind, name string, max int) error {
	if name == "" || len(name) > max {
		return newErr(ErrValidation, "The specified value for %sName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- and be 1 to %d characters long.", kind, max)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)) {
			return newErr(ErrValidation, "The specified value for %sName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-", kind)
		}
	}
	return nil
}

// normPath checks a path ("/" when empty): it begins and ends with '/', printable ASCII.
func normPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	if len(path) > 512 || path[0] != '/' || path[len(path)-1] != '/' {
		return "", newErr(ErrValidation, "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters.")
	}
	for i := 0; i < len(path); i++ {
		if path[i] < 0x21 || path[i] > 0x7e {
			return "", newErr(ErrValidation, "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters.")
		}
	}
	return path, nil
}

func noUser(name string) error {
	return newErr(ErrNoSuchEntity, "The user with name %s cannot be found.", name)
}

// checkPolicy parses an identity policy document for storing, with IAM's error.
func checkPolicy(doc string, max int) error {
	if _, err := policy.Parse([]byte(doc), policy.Identity, max); err != nil {
		var pe *policy.Error
		if ok := asPolicyErr(err, &pe); ok {
			if strings.Contains(pe.Message, "maximum allowed size") {
				return newErr(ErrLimitExceeded, "Cannot exceed quota for PolicySize: %d", max)
			}
			return newErr(ErrMalformedPolicy, "%s", pe.Message)
		}
		return newErr(ErrMalformedPolicy, "%s", err)
	}
	return nil
}

func asPolicyErr(err error, out **policy.Error) bool {
	pe, ok := err.(*policy.Error)
	*out = pe
	return ok
}

// CreateUser creates a user; EntityAlreadyExists if the name is taken.
func (m *Manager) CreateUser(ctx context.Context, name, path string) (User, error) {
	if err := validName("user", name, 64); err != nil {
		return User{}, err
	}
	path, err := normPath(path)
	if err != nil {
		return User{}, err
	}
	var u User
	err = m.update(ctx, func(st *state, _ map[string]string) error {
		if st.Users[name] != nil {
			return newErr(ErrEntityExists, "User with name %s already exists.", name)
		}
		if err := quota(len(st.Users), MaxUsers, "Users"); err != nil {
			return err
		}
		u = User{Name: name, ID: newID("AIDA", 17), Path: path, Created: m.now().UTC().Truncate(1e9)}
		st.Users[name] = &u
		return nil
	})
	return u, err
}

// GetUser returns the user name.
func (m *Manager) GetUser(name string) (User, error) {
	var u User
	err := m.read(func(st *state) error {
		p := st.Users[name]
		if p == nil {
			return noUser(name)
		}
		u = *p
		return nil
	})
	return u, err
}

// ListUsers returns the users whose path begins with prefix, by name.
func (m *Manager) ListUsers(prefix string) []User {
	var out []User
	m.read(func(st *state) error {
		for _, n := range sortedNames(st.Users) {
			if u := st.Users[n]; strings.HasPrefix(u.Path, prefix) {
				out = append(out, *u)
			}
		}
		return nil
	})
	return out
}

// DeleteUser deletes a user that has no access keys, policies or groups left, as IAM
// requires (DeleteConflict otherwise).
func (m *Manager) DeleteUser(ctx context.Context, name string) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		u := st.Users[name]
		if u == nil {
			return noUser(name)
		}
		if len(u.Keys) > 0 || len(u.Attached) > 0 || len(u.Inline) > 0 || len(u.Groups) > 0 {
			return newErr(ErrDeleteConflict, "Cannot delete entity, must delete access keys, policies and group memberships first.")
		}
		delete(st.Users, name)
		return nil
	})
}

// CreateAccessKey creates an active access key for the user; the returned key holds
// its secret, which is never shown again. LimitExceeded past MaxKeysPerUser.
func (m *Manager) CreateAccessKey(ctx context.Context, user string) (AccessKey, error) {
	var k AccessKey
	err := m.update(ctx, func(st *state, secrets map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		if len(u.Keys) >= MaxKeysPerUser {
			return newErr(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxKeysPerUser)
		}
		k = AccessKey{ID: newID("AKIA", 16), Status: StatusActive, Created: m.now().UTC().Truncate(1e9), Secret: newSecret()}
		sealed, err := m.sealer.Seal(k.ID, k.Secret)
		if err != nil {
			return err
		}
		stored := k
		stored.Secret, stored.Sealed = "", sealed
		u.Keys = append(u.Keys, stored)
		secrets[k.ID] = k.Secret
		return nil
	})
	return k, err
}

func findKey(u *User, id string) int {
	return slices.IndexFunc(u.Keys, func(k AccessKey) bool { return k.ID == id })
}

func noKey(id string) error {
	return newErr(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
}

// UpdateAccessKey sets a key's status, StatusActive or StatusInactive.
func (m *Manager) UpdateAccessKey(ctx context.Context, user, id, status string) error {
	if status != StatusActive && status != StatusInactive {
		return newErr(ErrValidation, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	return m.update(ctx, func(st *state, _ map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		i := findKey(u, id)
		if i < 0 {
			return noKey(id)
		}
		u.Keys[i].Status = status
		return nil
	})
}

// DeleteAccessKey deletes a key.
func (m *Manager) DeleteAccessKey(ctx context.Context, user, id string) error {
	return m.update(ctx, func(st *state, secrets map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		i := findKey(u, id)
		if i < 0 {
			return noKey(id)
		}
		u.Keys = slices.Delete(u.Keys, i, i+1)
		delete(secrets, id)
		return nil
	})
}

// ListAccessKeys returns the user's keys, without secrets.
func (m *Manager) ListAccessKeys(user string) ([]AccessKey, error) {
	var out []AccessKey
	err := m.read(func(st *state) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		for _, k := range u.Keys {
			k.Sealed = ""
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// PutUserPolicy adds or replaces the user's inline policy name.
func (m *Manager) PutUserPolicy(ctx context.Context, user, name, doc string) error {
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if err := checkPolicy(doc, MaxUserInlineSize); err != nil {
		return err
	}
	return m.update(ctx, func(st *state, _ map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		if u.Inline == nil {
			u.Inline = map[string]string{}
		}
		u.Inline[name] = doc
		return nil
	})
}

// UserPolicy returns the user's inline policy name.
func (m *Manager) UserPolicy(user, name string) (string, error) {
	var doc string
	err := m.read(func(st *state) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		d, ok := u.Inline[name]
		if !ok {
			return newErr(ErrNoSuchEntity, "The user policy with name %s cannot be found.", name)
		}
		doc = d
		return nil
	})
	return doc, err
}

// DeleteUserPolicy deletes the user's inline policy name.
func (m *Manager) DeleteUserPolicy(ctx context.Context, user, name string) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		if _, ok := u.Inline[name]; !ok {
			return newErr(ErrNoSuchEntity, "The user policy with name %s cannot be found.", name)
		}
		delete(u.Inline, name)
		return nil
	})
}

// ListUserPolicies returns the names of the user's inline policies.
func (m *Manager) ListUserPolicies(user string) ([]string, error) {
	var out []string
	err := m.read(func(st *state) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		out = sortedNames(u.Inline)
		return nil
	})
	return out, err
}
