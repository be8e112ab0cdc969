package identity

import (
	"context"
	"slices"
	"strings"
)

// policyName returns the policy name of a managed policy ARN of this account.
func (m *Manager) policyName(arn string) (string, error) {
	prefix := "arn:aws:iam::" + m.account + ":policy/"
	if !strings.HasPrefix(arn, prefix) {
		if !strings.HasPrefix(arn, "arn:") {
			return "", newErr(ErrInvalidInput, "ARN %s is not valid.", arn)
		}
		return "", newErr(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	}
	rest := arn[len(prefix)-1:]
	return rest[strings.LastIndexByte(rest, '/')+1:], nil
}

func noPolicy(arn string) error {
	return newErr(ErrNoSuchEntity, "Policy %s was not found.", arn)
}

// PolicyARN returns the ARN of the managed policy p.
func (m *Manager) PolicyARN(p *ManagedPolicy) string { return PolicyARN(m.account, p.Path, p.Name) }

// CreatePolicy creates a managed policy; the document is checked as IAM does
// (MalformedPolicyDocument, LimitExceeded past MaxManagedSize).
func (m *Manager) CreatePolicy(ctx context.Context, name, path, doc, description string) (ManagedPolicy, error) {
	if err := validName("policy", name, 128); err != nil {
		return ManagedPolicy{}, err
	}
	path, err := normPath(path)
	if err != nil {
		return ManagedPolicy{}, err
	}
	if err := checkPolicy(doc, 6144); err != nil {
		return ManagedPolicy{}, err
	}
	var p ManagedPolicy
	err = m.update(ctx, func(st *state, _ map[string]string) error {
		if st.Policies[name] != nil {
			return newErr(ErrEntityExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		if err := quota(len(st.Policies), MaxPolicies, "Policies"); err != nil {
			return err
		}
		now := m.now().UTC().Truncate(1e9)
		p = ManagedPolicy{Name: name, ID: newID("ANPA", 17), Path: path, Description: description, Document: doc, Created: now, Updated: now}
		st.Policies[name] = &p
		return nil
	})
	return p, err
}

// GetPolicy returns the managed policy arn and how many entities it is attached to.
func (m *Manager) GetPolicy(arn string) (ManagedPolicy, int, error) {
	name, err := m.policyName(arn)
	if err != nil {
		return ManagedPolicy{}, 0, err
	}
	var p ManagedPolicy
	var n int
	err = m.read(func(st *state) error {
		mp := st.Policies[name]
		if mp == nil || m.PolicyARN(mp) != arn {
			return noPolicy(arn)
		}
		p, n = *mp, attachments(st, name)
		return nil
	})
	return p, n, err
}

func attachments(st *state, name string) int {
	n := 0
	for _, u := range st.Users {
		if slices.Contains(u.Attached, name) {
			n++
		}
	}
	for _, g := range st.Groups {
		if slices.Contains(g.Attached, name) {
			n++
		}
	}
	for _, r := range st.Roles {
		if slices.Contains(r.Attached, name) {
			n++
		}
	}
	return n
}

// ListPolicies returns the managed policies whose path begins with prefix.
func (m *Manager) ListPolicies(prefix string) []ManagedPolicy {
	var out []ManagedPolicy
	m.read(func(st *state) error {
		for _, n := range sortedNames(st.Policies) {
			if p := st.Policies[n]; strings.HasPrefix(p.Path, prefix) {
				out = append(out, *p)
			}
		}
		return nil
	})
	return out
}

// DeletePolicy deletes a managed policy attached to nothing (DeleteConflict otherwise).
func (m *Manager) DeletePolicy(ctx context.Context, arn string) error {
	name, err := m.policyName(arn)
	if err != nil {
		return err
	}
	return m.update(ctx, func(st *state, _ map[string]string) error {
		mp := st.Policies[name]
		if mp == nil || m.PolicyARN(mp) != arn {
			return noPolicy(arn)
		}
		if attachments(st, name) > 0 {
			return newErr(ErrDeleteConflict, "Cannot delete a policy attached to entities.")
		}
		delete(st.Policies, name)
		return nil
	})
}

// attach adds or removes policy arn in the list *list of an entity.
func (m *Manager) attach(st *state, list *[]string, arn string, on bool) error {
	name, err := m.policyName(arn)
	if err != nil {
		return err
	}
	mp := st.Policies[name]
	if mp == nil || m.PolicyARN(mp) != arn {
		return newErr(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	}
	i := slices.Index(*list, name)
	switch {
	case on && i >= 0:
		return nil
	case on && len(*list) >= MaxAttachedPolicies:
		return newErr(ErrLimitExceeded, "Cannot exceed quota for PoliciesPerUser: %d", MaxAttachedPolicies)
	case on:
		*list = append(*list, name)
	case i < 0:
		return newErr(ErrNoSuchEntity, "Policy %s was not found.", arn)
	default:
		*list = slices.Delete(*list, i, i+1)
	}
	return nil
}

// AttachUserPolicy attaches (on) or detaches a managed policy to the user.
func (m *Manager) AttachUserPolicy(ctx context.Context, user, arn string, on bool) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		u := st.Users[user]
		if u == nil {
			return noUser(user)
		}
		return m.attach(st, &u.Attached, arn, on)
	})
}

// AttachGroupPolicy attaches (on) or detaches a managed policy to the group.
func (m *Manager) AttachGroupPolicy(ctx context.Context, group, arn string, on bool) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		g := st.Groups[group]
		if g == nil {
			return noGroup(group)
		}
		return m.attach(st, &g.Attached, arn, on)
	})
}

// AttachRolePolicy attaches (on) or detaches a managed policy to the role.
func (m *Manager) AttachRolePolicy(ctx context.Context, role, arn string, on bool) error {
	return m.update(ctx, func(st *state, _ map[string]string) error {
		r := st.Roles[role]
		if r == nil {
			return noRole(role)
		}
		return m.attach(st, &r.Attached, arn, on)
	})
}

// AttachedPolicies returns the managed policies attached to the user ("user"), group
// ("group") or role ("role") name.
func (m *Manager) AttachedPolicies(kind, name string) ([]ManagedPolicy, error) {
	var out []ManagedPolicy
	err := m.read(func(st *state) error {
		var list []string
		switch kind {
		case "user":
			u := st.Users[name]
			if u == nil {
				return noUser(name)
			}
			list = u.Attached
		case "group":
			g := st.Groups[name]
			if g == nil {
				return noGroup(name)
			}
			list = g.Attached
		default:
			r := st.Roles[name]
			if r == nil {
				return noRole(name)
			}
			list = r.Attached
		}
		for _, n := range list {
			if p := st.Policies[n]; p != nil {
				out = append(out, *p)
			}
		}
		return nil
	})
	return out, err
}
