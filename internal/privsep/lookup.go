//go:build linux

package privsep

import (
	"fmt"
	"os/user"
	"strconv"
)

// ident is a resolved user and group.
type ident struct {
	user, group string // as given, for messages
	uid, gid    int
}

func (id ident) String() string {
	return fmt.Sprintf("user %s (uid %d) and group %s (gid %d)", id.user, id.uid, id.group, id.gid)
}

// lookup resolves a user and a group, each a name or a number. An empty group is the
// user's primary group. A number that no account has is taken as it is, as chown does.
func lookup(userName, groupName string) (ident, error) {
	id := ident{user: userName, group: groupName}
	if n, err := strconv.Atoi(userName); err == nil && n >= 0 {
		id.uid = n
		if u, err := user.LookupId(userName); err == nil {
			id.gid, _ = strconv.Atoi(u.Gid)
		} else if groupName == "" {
			return ident{}, fmt.Errorf("privsep: uid %d has no account: give %s", n, EnvGroup)
		}
	} else {
		u, err := user.Lookup(userName)
		if err != nil {
			return ident{}, fmt.Errorf("privsep: %s=%q: %w", EnvUser, userName, err)
		}
		id.uid, _ = strconv.Atoi(u.Uid)
		id.gid, _ = strconv.Atoi(u.Gid)
	}
	if groupName == "" {
		id.group = strconv.Itoa(id.gid)
		return id, nil
	}
	if n, err := strconv.Atoi(groupName); err == nil && n >= 0 {
		id.gid = n
		return id, nil
	}
	g, err := user.LookupGroup(groupName)
	if err != nil {
		return ident{}, fmt.Errorf("privsep: %s=%q: %w", EnvGroup, groupName, err)
	}
	id.gid, _ = strconv.Atoi(g.Gid)
	return id, nil
}
