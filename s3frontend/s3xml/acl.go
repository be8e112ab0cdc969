package s3xml

import "strings"

// Grant is one grant of an AccessControlPolicy: a grantee (by Type: CanonicalUser with
// ID, Group with URI, AmazonCustomerByEmail with Email) and a permission.
type Grant struct {
	Type, ID, URI, Email string
	Permission           string
}

// ACL is a parsed AccessControlPolicy body.
type ACL struct {
	// OwnerID is the Owner's ID, "" when the document names no owner.
	OwnerID string
	Grants  []Grant
}

// MaxGrants is S3's limit on the grants of one ACL.
const MaxGrants = 100

// permissions are the permissions S3 grants.
var permissions = [...]string{"FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"}

// ParseACL parses a PutBucketAcl or PutObjectAcl body: an AccessControlPolicy with at most
// one Owner and one AccessControlList of at most MaxGrants Grant elements, each with one
// Grantee of a known xsi:type carrying the field that type needs, and one of S3's
// permissions.
func ParseACL(doc []byte) (ACL, error) {
	type grantee struct {
		Type  string   `xml:"type,attr"`
		ID    []string `xml:"ID"`
		URI   []string `xml:"URI"`
		Email []string `xml:"EmailAddress"`
	}
	var v struct {
		Owner []struct {
			ID []string `xml:"ID"`
		} `xml:"Owner"`
		Lists []struct {
			Grants []struct {
				Grantee    []grantee `xml:"Grantee"`
				Permission []string  `xml:"Permission"`
			} `xml:"Grant"`
		} `xml:"AccessControlList"`
	}
	if err := decode(doc, "AccessControlPolicy", &v); err != nil {
		return ACL{}, err
	}
	var out ACL
	switch {
	case len(v.Owner) > 1:
		return ACL{}, malformed("%d Owner elements", len(v.Owner))
	case len(v.Owner) == 1:
		if len(v.Owner[0].ID) != 1 {
			return ACL{}, malformed("Owner with %d IDs", len(v.Owner[0].ID))
		}
		out.OwnerID = strings.TrimSpace(v.Owner[0].ID[0])
	}
	if len(v.Lists) != 1 {
		return ACL{}, malformed("%d AccessControlList elements", len(v.Lists))
	}
	if n := len(v.Lists[0].Grants); n > MaxGrants {
		return ACL{}, malformed("%d grants", n)
	}
	for i, g := range v.Lists[0].Grants {
		if len(g.Grantee) != 1 || len(g.Permission) != 1 {
			return ACL{}, malformed("grant %d: %d grantees, %d permissions", i+1, len(g.Grantee), len(g.Permission))
		}
		ge := g.Grantee[0]
		gr := Grant{Type: ge.Type, Permission: strings.TrimSpace(g.Permission[0])}
		var field []string
		switch ge.Type {
		case "CanonicalUser":
			field = ge.ID
		case "Group":
			field = ge.URI
		case "AmazonCustomerByEmail":
			field = ge.Email
		default:
			return ACL{}, malformed("grant %d: grantee type %q", i+1, ge.Type)
		}
		if len(field) != 1 {
			return ACL{}, malformed("grant %d: %s grantee with %d identifiers", i+1, ge.Type, len(field))
		}
		id := strings.TrimSpace(field[0])
		switch ge.Type {
		case "CanonicalUser":
			gr.ID = id
		case "Group":
			gr.URI = id
		default:
			gr.Email = id
		}
		known := false
		for _, p := range permissions {
			known = known || gr.Permission == p
		}
		if !known {
			return ACL{}, malformed("grant %d: permission %q", i+1, gr.Permission)
		}
		out.Grants = append(out.Grants, gr)
	}
	return out, nil
}
