package iamapi

import (
	"context"
	"strings"
	"time"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
	"github.com/flashstor/flashstor/iam/sts"
)

type xmlCreds struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func credsXML(c sts.Credentials) xmlCreds {
	return xmlCreds{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: isoTime(c.Expiration)}
}

// maxSessionPolicy is AWS's limit on a session policy, in characters.
const maxSessionPolicy = 2048

func (a *API) serveSTS(ctx context.Context, r *Request, action string) (any, error) {
	if err := a.ids.Available(); err != nil {
		return nil, err
	}
	switch action {
	case "GetCallerIdentity":
		p := r.Caller.Principal
		id := p.ID
		if p.Kind == identity.Root {
			id = a.ids.Account()
		}
		return struct {
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
			Account string `xml:"Account"`
		}{p.ARN, id, a.ids.Account()}, nil
	case "GetSessionToken":
		return a.getSessionToken(r)
	case "AssumeRole":
		return a.assumeRole(r)
	}
	return nil, errf(400, "InvalidAction", "Could not find operation %s for version 2011-06-15", action)
}

// sessionPolicy checks the Policy parameter, a session policy.
func sessionPolicy(form map[string][]string) (string, error) {
	doc := ""
	if v := form["Policy"]; len(v) > 0 {
		doc = v[0]
	}
	if doc == "" {
		return "", nil
	}
	if _, err := policy.Parse([]byte(doc), policy.Identity, maxSessionPolicy); err != nil {
		msg := err.(*policy.Error).Message
		if strings.Contains(msg, "maximum allowed size") {
			return "", errf(400, "PackedPolicyTooLarge", "Packed policy consumes more than 100 percent of the allotted space.")
		}
		return "", errf(400, "MalformedPolicyDocument", "%s", msg)
	}
	return doc, nil
}

func (a *API) getSessionToken(r *Request) (any, error) {
	c := r.Caller
	if c.Session != nil {
		return nil, errf(403, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	}
	max := 129600
	if c.Root {
		max = 3600
	}
	dur, err := intParam(r.Form, "DurationSeconds", min(43200, max), 900, max)
	if err != nil {
		return nil, err
	}
	now := a.now()
	claims := sts.Claims{Issued: now.Unix(), Expires: now.Add(time.Duration(dur) * time.Second).Unix(), Root: c.Root}
	if !c.Root {
		claims.User, claims.UserID = c.Principal.Name, c.Principal.ID
	}
	creds, err := a.issuer.Issue(claims)
	if err != nil {
		return nil, err
	}
	return struct {
		Credentials xmlCreds `xml:"Credentials"`
	}{credsXML(creds)}, nil
}

func validSessionName(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)) {
			return false
		}
	}
	return true
}

func (a *API) assumeRole(r *Request) (any, error) {
	if err := required(r.Form, "RoleArn", "RoleSessionName"); err != nil {
		return nil, err
	}
	c := r.Caller
	if c.Root && c.Session == nil {
		return nil, errf(403, "AccessDenied", "Roles may not be assumed by root accounts.")
	}
	roleARN, session := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	if !validSessionName(session) {
		return nil, errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	snap := a.ids.Snapshot()
	name := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	role, trust, _, ok := snap.Role(name)
	denied := errf(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.Principal.ARN, roleARN)
	if !ok || identity.RoleARN(snap.Account(), role.Path, role.Name) != roleARN {
		return nil, denied
	}
	// The trust policy must let the caller in; unless it names the caller itself (not
	// just the account), the caller's own policies must allow sts:AssumeRole too, as in
	// AWS within one account.
	tr := &policy.Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: c.Principal.ARN, AltPrincipals: c.Principal.AltARNs,
		PrincipalAccount: c.Principal.Account, Context: r.Context}
	switch trust.Decide(tr) {
	case policy.Denied, policy.NoMatch:
		return nil, denied
	}
	tr.PrincipalAccount = ""
	if trust.Decide(tr) != policy.Allowed && c.DecideDirect("sts:AssumeRole", roleARN, r.Context) != policy.Allowed {
		return nil, denied
	}
	max := role.MaxSessionDuration
	if c.Session != nil {
		max = 3600 // role chaining
	}
	dur, err := intParam(r.Form, "DurationSeconds", min(3600, max), 900, max)
	if err != nil {
		return nil, err
	}
	doc, err := sessionPolicy(r.Form)
	if err != nil {
		return nil, err
	}
	now := a.now()
	creds, err := a.issuer.Issue(sts.Claims{Issued: now.Unix(), Expires: now.Add(time.Duration(dur) * time.Second).Unix(),
		Role: role.Name, RoleID: role.ID, SessionName: session, User: c.Principal.Name, UserID: c.Principal.ID, Policy: doc})
	if err != nil {
		return nil, err
	}
	return struct {
		Credentials      xmlCreds `xml:"Credentials"`
		AssumedRoleID    string   `xml:"AssumedRoleUser>AssumedRoleId"`
		AssumedRoleArn   string   `xml:"AssumedRoleUser>Arn"`
		PackedPolicySize int      `xml:"PackedPolicySize,omitempty"`
	}{Credentials: credsXML(creds), AssumedRoleID: role.ID + ":" + session,
		AssumedRoleArn: "arn:aws:sts::" + snap.Account() + ":assumed-role/" + role.Name + "/" + session}, nil
}
