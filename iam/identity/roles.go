package identity

import (
	"context"

	"github.com/flashstor/flashstor/iam/policy"
)

func noRole(name string) error {
	return newErr(ErrNoSuchEntity, "The role with name %s cannot be found.", name)
}

// CreateRole creates a role whose trust policy (a resource policy naming who may assume
// it) is trust. maxSession is the longest session in seconds, 3600 to 43200 (3600 when 0).
func (m *Manager) CreateRole(ctx context.Context, name, path, trust, description string, maxSession int) (Role, error) {
	if err := validName("role", name, 64); err != nil {
		return Role{}, err
	}
	path, err := normPath(path)
	if err != nil {
		return Role{}, err
	}
	if maxSession == 0 {
		maxSession = DefaultSessionMaxAge
	}
	if maxSession < 3600 || maxSession > 43200 {
		return Role{}, newErr(ErrValidation, "The requested MaxSessionDuration is out of range: 3600 to 43200 seconds.")
	}
	if _, err := policy.Parse([]byte(trust), policy.Trust, 2048); err != nil {
		return Role{}, newErr(ErrMalformedPolicy, "%s", err.(*policy.Error).Message)
	}
	var r Role
	err = m.update(ctx, func(st *state, _ map[string]string) error {
		if st.Roles[name] != nil {
			return newErr(ErrEntityExists, "Role with name %s already exists.", name)
		}
		if err := quota(len(st.Roles), MaxRoles, "Roles"); err != nil {
			return err
		}
		r = Role{Name: name, ID: newID("AROA", 17), Path: path, Created: m.now().UTC().Truncate(1e9), Trust: trust,
			MaxSessionDuration: maxSession, Description: description}
		st.Roles[name] = &r
		return nil
	})
	return r, err
}

// GetRole returns the role name.
func (m *Manager) GetRole(name string) (Role, error) {
	var r Role
	err := m.read(func(st *state) error {
		p := st.Roles[name]
		if p == nil {
			return noRole(name)
		}
		r = *p
		return nil
	})
	return r, err
}

// DeleteRole deletes a role without policies attached (DeleteConflict otherwise).
func (m *Manager) DeleteRole(ctx context.Context, name string) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		r := st.Roles[name]
		if r == nil {
			return noRole(name)
		}
		if len(r.Attached) > 0 || len(r.Inline) > 0 {
			return newErr(ErrDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		delete(st.Roles, name)
		return nil
	})
}
