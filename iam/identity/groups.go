package identity

import (
	"context"
	"slices"
	"strings"
)

func noGroup(name string) error {
	return newErr(ErrNoSuchEntity, "The group with name %s cannot be found.", name)
}

// CreateGroup creates a group.
func (m *Manager) CreateGroup(ctx context.Context, name, path string) (Group, error) {
	if err := validName("group", name, 128); err != nil {
		return Group{}, err
	}
	path, err := normPath(path)
	if err != nil {
		return Group{}, err
	}
	var g Group
	err = m.update(ctx, func(st *state, _ map[string]string) error {
		if st.Groups[name] != nil {
			return newErr(ErrEntityExists, "Group with name %s already exists.", name)
		}
		if err := quota(len(st.Groups), MaxGroups, "Groups"); err != nil {
			return err
		}
		g = Group{Name: name, ID: newID("AGPA", 17), Path: path, Created: m.now().UTC().Truncate(1e9)}
		st.Groups[name] = &g
		return nil
	})
	return g, err
}

// GetGroup returns the group and its members.
func (m *Manager) GetGroup(name string) (Group, []User, error) {
	var g Group
	var members []User
	err := m.read(func(st *state) error {
		p := st.Groups[name]
		if p == nil {
			return noGroup(name)
		}
		g = *p
		for _, n := range sortedNames(st.Users) {
			if u := st.Users[n]; slices.Contains(u.Groups, name) {
				members = append(members, *u)
			}
		}
		return nil
	})
	return g, members, err
}

// ListGroups returns the groups whose path begins with prefix.
func (m *Manager) ListGroups(prefix string) []Group {
	var out []Group
	m.read(func(st *state) error {
		for _, n := range sortedNames(st.Groups) {
			if g := st.Groups[n]; strings.HasPrefix(g.Path, prefix) {
				out = append(out, *g)
			}
		}
		return nil
	})
	return out
}

// DeleteGroup deletes a group without members or policies (DeleteConflict otherwise).
func (m *Manager) DeleteGroup(ctx context.Context, name string) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		g := st.Groups[name]
		if g == nil {
			return noGroup(name)
		}
		for _, u := range st.Users {
			if slices.Contains(u.Groups, name) {
				return newErr(ErrDeleteConflict, "Cannot delete entity, must remove users from group first.")
			}
		}
		if len(g.Attached) > 0 || len(g.Inline) > 0 {
			return newErr(ErrDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		delete(st.Groups, name)
		return nil
	})
}

// SetMembership adds (in) or removes the user from the group.
func (m *Manager) SetMembership(ctx context.Context, group, user string, in bool) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		if st.Groups[group] == nil {
			return noGroup(group)
		}
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		i := slices.Index(u.Groups, group)
		switch {
		case in && i < 0:
			u.Groups = append(u.Groups, group)
		case !in && i < 0:
			return newErr(ErrNoSuchEntity, "User %s is not in group %s.", user, group)
		case !in:
			u.Groups = slices.Delete(u.Groups, i, i+1)
		}
		return nil
	})
}

// PutGroupPolicy adds or replaces the group's inline policy name.
func (m *Manager) PutGroupPolicy(ctx context.Context, group, name, doc string) error {
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if err := checkPolicy(doc, MaxGroupInlineSize); err != nil {
		return err
	}
	return m.update(ctx, func(st *state, _ map[string]string) error {
		g := st.Groups[group]
		if g == nil {
			return noGroup(group)
		}
		if g.Inline == nil {
			g.Inline = map[string]string{}
		}
		g.Inline[name] = doc
		return nil
	})
}

// DeleteGroupPolicy deletes the group's inline policy name.
func (m *Manager) DeleteGroupPolicy(ctx context.Context, group, name string) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		g := st.Groups[group]
		if g == nil {
			return noGroup(group)
		}
		if _, ok := g.Inline[name]; !ok {
			return newErr(ErrNoSuchEntity, "The group policy with name %s cannot be found.", name)
		}
		delete(g.Inline, name)
		return nil
	})
}
