package s3frontend

import (
	"net/http"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// ACLs are kept as canned ACL names: there is one user (the root, owner of every bucket
// and object), so every ACL S3 could store here is the owner's FULL_CONTROL plus what a
// canned ACL grants to the AllUsers or AuthenticatedUsers groups. An object's ACL is its
// metadata entry mdACL, a bucket's its "acl" configuration document; absent is private.

// mdACL is the metadata entry of an object's canned ACL other than private.
const mdACL = "x-amz-acl"

// aclPrivate is the default ACL.
const aclPrivate = "private"

// The grantee groups of the canned ACLs.
const (
	groupAllUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
	groupAuthUser = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// groupGrant is a grant to a group.
type groupGrant struct{ uri, permission string }

// cannedACLs maps each canned ACL to what it grants besides the owner's FULL_CONTROL. The
// bucket-owner ones grant the bucket's owner, who is the object's owner here.
var cannedACLs = map[string][]groupGrant{
	aclPrivate:                  nil,
	"public-read":               {{groupAllUsers, "READ"}},
	"public-read-write":         {{groupAllUsers, "READ"}, {groupAllUsers, "WRITE"}},
	"authenticated-read":        {{groupAuthUser, "READ"}},
	"bucket-owner-read":         nil,
	"bucket-owner-full-control": nil,
}

// grantHeaders are the x-amz-grant-* headers, FULL_CONTROL's first.
var grantHeaders = [...]string{"x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp"}

// errGrantsNotImplemented answers an ACL that grants anyone but the owner something a
// canned ACL does not.
var errGrantsNotImplemented = s3err.NotImplemented.With("Only the canned ACLs are implemented: grants to other grantees than the owner and the AllUsers and AuthenticatedUsers groups of a canned ACL are not.")

// requestACL reads the ACL a write asks for: x-amz-acl (a canned ACL), or x-amz-grant-*
// headers that grant only the owner FULL_CONTROL (private). It returns "" when the request
// names none.
func (c *call) requestACL() (string, error) {
	canned := ""
	if v := c.header("x-amz-acl"); v != nil {
		if _, ok := cannedACLs[string(v)]; !ok {
			if string(v) == "log-delivery-write" || string(v) == "aws-exec-read" {
				return "", s3err.NotImplemented.With("The " + string(v) + " canned ACL is not implemented.")
			}
			return "", s3err.InvalidArgument.With("The x-amz-acl header value is not a canned ACL.")
		}
		canned = string(v)
	}
	for i, name := range grantHeaders {
		v := c.header(name)
		if v == nil {
			continue
		}
		if canned != "" {
			return "", s3err.InvalidRequest.With("Specifying both Canned ACLs and Header Grants is not allowed")
		}
		if i != 0 || !c.isOwnerGrantee(string(v)) {
			return "", errGrantsNotImplemented
		}
		canned = aclPrivate
	}
	return canned, nil
}

// isOwnerGrantee reports whether an x-amz-grant-* value names the owner alone.
func (c *call) isOwnerGrantee(v string) bool {
	v = strings.TrimSpace(v)
	id, ok := strings.CutPrefix(v, "id=")
	return ok && strings.Trim(id, `"`) == c.h.ownerID
}

// aclFromBody maps an AccessControlPolicy to the canned ACL it equals.
func (c *call) aclFromBody(doc []byte) (string, error) {
	acl, err := s3xml.ParseACL(doc)
	if err != nil {
		return "", s3err.MalformedXML
	}
	if acl.OwnerID != "" && acl.OwnerID != c.h.ownerID {
		return "", s3err.AccessDenied
	}
	ownerFull := false
	var groups []groupGrant
	for _, g := range acl.Grants {
		switch {
		case g.Type == "CanonicalUser" && g.ID == c.h.ownerID && g.Permission == "FULL_CONTROL":
			ownerFull = true
		case g.Type == "Group" && (g.URI == groupAllUsers || g.URI == groupAuthUser) && (g.Permission == "READ" || g.Permission == "WRITE"):
			groups = append(groups, groupGrant{g.URI, g.Permission})
		default:
			return "", errGrantsNotImplemented
		}
	}
	if ownerFull {
		for _, name := range [...]string{aclPrivate, "public-read", "public-read-write", "authenticated-read"} {
			if sameGrants(groups, cannedACLs[name]) {
				return name, nil
			}
		}
	}
	return "", errGrantsNotImplemented
}

// sameGrants reports whether a and b hold the same grants, in any order.
func sameGrants(a, b []groupGrant) bool {
	if len(a) != len(b) {
		return false
	}
	for _, g := range a {
		found := false
		for _, h := range b {
			found = found || g == h
		}
		if !found {
			return false
		}
	}
	return true
}

// putACL reads the ACL of PutBucketAcl or PutObjectAcl: the header, or the body, not both.
func (c *call) putACL() (string, error) {
	canned, err := c.requestACL()
	if err != nil {
		return "", err
	}
	doc, err := c.readXMLBody()
	if err != nil {
		return "", err
	}
	hasBody := len(strings.TrimSpace(string(doc))) > 0
	switch {
	case canned != "" && hasBody:
		return "", s3err.UnexpectedContent
	case canned != "":
		return canned, nil
	case !hasBody:
		return "", s3err.MalformedXML
	}
	return c.aclFromBody(doc)
}

// writeACL sends the AccessControlPolicy of a canned ACL.
func (c *call) writeACL(canned string) {
	if canned == "" {
		canned = aclPrivate
	}
	x := c.startXML("AccessControlPolicy")
	c.writeOwner(x)
	x.Open("AccessControlList")
	const xsi = `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="`
	x.Open("Grant")
	x.B = append(x.B, xsi+`CanonicalUser">`...)
	x.String("ID", c.h.ownerID)
	x.String("DisplayName", c.h.ownerName)
	x.Close("Grantee")
	x.String("Permission", "FULL_CONTROL")
	x.Close("Grant")
	for _, g := range cannedACLs[canned] {
		x.Open("Grant")
		x.B = append(x.B, xsi+`Group">`...)
		x.String("URI", g.uri)
		x.Close("Grantee")
		x.String("Permission", g.permission)
		x.Close("Grant")
	}
	x.Close("AccessControlList")
	x.Close("AccessControlPolicy")
	c.sendXML(http.StatusOK)
}

// getBucketACL serves GetBucketAcl.
func (c *call) getBucketACL() error {
	cfg, err := c.bucketConfig()
	if err != nil {
		return err
	}
	c.writeACL(cfg[objstore.BucketConfigACL])
	return nil
}

// putBucketACL serves PutBucketAcl.
func (c *call) putBucketACL() error {
	canned, err := c.putACL()
	if err != nil {
		return err
	}
	if canned == aclPrivate {
		canned = ""
	}
	if err := c.setBucketConfig(objstore.BucketConfigACL, canned); err != nil {
		return err
	}
	return c.empty()
}

// getObjectACL serves GetObjectAcl.
func (c *call) getObjectACL() error {
	info, err := c.statSubresource()
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	c.writeACL(info.Metadata[mdACL])
	return nil
}

// putObjectACL serves PutObjectAcl, through the layer's metadata update.
func (c *call) putObjectACL() error {
	canned, err := c.putACL()
	if err != nil {
		return err
	}
	patch := objstore.MetadataPatch{Delete: []string{mdACL}}
	if canned != aclPrivate {
		patch = objstore.MetadataPatch{Set: map[string]string{mdACL: canned}}
	}
	info, err := c.updateSubresource(patch)
	if err != nil {
		return err
	}
	c.setVersionHeader(info.Version.VersionID)
	return c.empty()
}

// setRequestACL records the canned ACL a new object's request asks for in its metadata.
func setRequestACL(md map[string]string, canned string) {
	delete(md, mdACL)
	if canned != "" && canned != aclPrivate {
		md[mdACL] = canned
	}
}

// isPublicRead reports whether a canned ACL lets anonymous clients read.
func isPublicRead(canned string) bool {
	for _, g := range cannedACLs[canned] {
		if g.uri == groupAllUsers && g.permission == "READ" {
			return true
		}
	}
	return false
}
