package iamapi

import (
	"context"
	"strings"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/policy"
)

type xmlUser struct {
	Path       string `xml:"Path"`
	UserName   string `xml:"UserName"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type xmlGroup struct {
	Path       string `xml:"Path"`
	GroupName  string `xml:"GroupName"`
	GroupID    string `xml:"GroupId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type xmlPolicy struct {
	PolicyName       string `xml:"PolicyName"`
	PolicyID         string `xml:"PolicyId"`
	Arn              string `xml:"Arn"`
	Path             string `xml:"Path"`
	DefaultVersionID string `xml:"DefaultVersionId"`
	AttachmentCount  int    `xml:"AttachmentCount"`
	IsAttachable     bool   `xml:"IsAttachable"`
	Description      string `xml:"Description,omitempty"`
	CreateDate       string `xml:"CreateDate"`
	UpdateDate       string `xml:"UpdateDate"`
}

type xmlAttached struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type xmlKey struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type listResult struct {
	IsTruncated bool `xml:"IsTruncated"`
}

func (a *API) user(u identity.User) xmlUser {
	return xmlUser{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: identity.UserARN(a.ids.Account(), u.Path, u.Name), CreateDate: isoTime(u.Created)}
}

func (a *API) group(g identity.Group) xmlGroup {
	return xmlGroup{Path: g.Path, GroupName: g.Name, GroupID: g.ID, Arn: identity.GroupARN(a.ids.Account(), g.Path, g.Name), CreateDate: isoTime(g.Created)}
}

func (a *API) policy(p identity.ManagedPolicy, attached int) xmlPolicy {
	return xmlPolicy{PolicyName: p.Name, PolicyID: p.ID, Arn: a.ids.PolicyARN(&p), Path: p.Path, DefaultVersionID: "v1",
		AttachmentCount: attached, IsAttachable: true, Description: p.Description, CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Updated)}
}

func (a *API) role(r identity.Role) xmlRole {
	return xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: identity.RoleARN(a.ids.Account(), r.Path, r.Name),
		CreateDate: isoTime(r.Created), AssumeRolePolicyDocument: urlEncodeDoc(r.Trust), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration}
}

func (a *API) attachedList(ps []identity.ManagedPolicy) []xmlAttached {
	out := []xmlAttached{}
	for _, p := range ps {
		out = append(out, xmlAttached{PolicyName: p.Name, PolicyArn: a.ids.PolicyARN(&p)})
	}
	return out
}

// targetUser is the UserName of the call, or the caller's own user when it names none
// (GetUser, CreateAccessKey and ListAccessKeys work on oneself).
func targetUser(r *Request) (string, error) {
	if n := r.Form.Get("UserName"); n != "" {
		return n, nil
	}
	if p := r.Caller.Principal; p.Kind == identity.UserKind {
		return p.Name, nil
	}
	return "", errf(400, "ValidationError", "Must specify userName when calling with non-User credentials")
}

// resource is the ARN the caller's policies are asked about for a call.
func (a *API) resource(action string, r *Request) string {
	acct := a.ids.Account()
	f := r.Form
	switch {
	case f.Get("PolicyArn") != "" && (strings.Contains(action, "Policy") && !strings.Contains(action, "Attach") && !strings.Contains(action, "Detach")):
		return f.Get("PolicyArn")
	case f.Get("UserName") != "":
		path := "/"
		if u, err := a.ids.GetUser(f.Get("UserName")); err == nil {
			path = u.Path
		}
		return identity.UserARN(acct, path, f.Get("UserName"))
	case f.Get("GroupName") != "":
		return identity.GroupARN(acct, "/", f.Get("GroupName"))
	case f.Get("RoleName") != "":
		return identity.RoleARN(acct, "/", f.Get("RoleName"))
	case action == "CreatePolicy":
		return identity.PolicyARN(acct, "/", f.Get("PolicyName"))
	case r.Caller.Principal.Kind == identity.UserKind:
		return r.Caller.Principal.ARN
	}
	return "arn:aws:iam::" + acct + ":*"
}

func (a *API) serveIAM(ctx context.Context, r *Request, action string) (any, error) {
	h, ok := iamActions[action]
	if !ok {
		return nil, errInvalidAction(action)
	}
	if err := a.ids.Available(); err != nil {
		return nil, err
	}
	if d := r.Caller.DecideDirect("iam:"+action, a.resource(action, r), r.Context); d != policy.Allowed {
		return nil, errAccessDenied("iam:" + action + " on resource: " + a.resource(action, r))
	}
	return h(a, ctx, r)
}

type handler func(a *API, ctx context.Context, r *Request) (any, error)

var iamActions = map[string]handler{
	"CreateUser": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName"); err != nil {
			return nil, err
		}
		u, err := a.ids.CreateUser(ctx, r.Form.Get("UserName"), r.Form.Get("Path"))
		if err != nil {
			return nil, err
		}
		return struct {
			User xmlUser `xml:"User"`
		}{a.user(u)}, nil
	},
	"GetUser": func(a *API, ctx context.Context, r *Request) (any, error) {
		if r.Form.Get("UserName") == "" && r.Caller.Root {
			// The root user, as IAM answers it: the account id and the root ARN.
			return struct {
				UserID string `xml:"User>UserId"`
				Arn    string `xml:"User>Arn"`
				Path   string `xml:"User>Path"`
			}{a.ids.Account(), "arn:aws:iam::" + a.ids.Account() + ":root", "/"}, nil
		}
		name, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		u, err := a.ids.GetUser(name)
		if err != nil {
			return nil, err
		}
		return struct {
			User xmlUser `xml:"User"`
		}{a.user(u)}, nil
	},
	"DeleteUser": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteUser(ctx, r.Form.Get("UserName"))
	},
	"ListUsers": func(a *API, ctx context.Context, r *Request) (any, error) {
		out := struct {
			Users []xmlUser `xml:"Users>member"`
			listResult
		}{Users: []xmlUser{}}
		for _, u := range a.ids.ListUsers(pathPrefix(r)) {
			out.Users = append(out.Users, a.user(u))
		}
		return out, nil
	},
	"CreateAccessKey": func(a *API, ctx context.Context, r *Request) (any, error) {
		name, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		k, err := a.ids.CreateAccessKey(ctx, name)
		if err != nil {
			return nil, err
		}
		return struct {
			AccessKey xmlKey `xml:"AccessKey"`
		}{xmlKey{UserName: name, AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: isoTime(k.Created)}}, nil
	},
	"DeleteAccessKey": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "AccessKeyId"); err != nil {
			return nil, err
		}
		name, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteAccessKey(ctx, name, r.Form.Get("AccessKeyId"))
	},
	"UpdateAccessKey": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "AccessKeyId", "Status"); err != nil {
			return nil, err
		}
		name, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		return nil, a.ids.UpdateAccessKey(ctx, name, r.Form.Get("AccessKeyId"), r.Form.Get("Status"))
	},
	"ListAccessKeys": func(a *API, ctx context.Context, r *Request) (any, error) {
		name, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		keys, err := a.ids.ListAccessKeys(name)
		if err != nil {
			return nil, err
		}
		out := struct {
			Keys []xmlKey `xml:"AccessKeyMetadata>member"`
			listResult
		}{Keys: []xmlKey{}}
		for _, k := range keys {
			out.Keys = append(out.Keys, xmlKey{UserName: name, AccessKeyID: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
		}
		return out, nil
	},
	"CreateGroup": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName"); err != nil {
			return nil, err
		}
		g, err := a.ids.CreateGroup(ctx, r.Form.Get("GroupName"), r.Form.Get("Path"))
		if err != nil {
			return nil, err
		}
		return struct {
			Group xmlGroup `xml:"Group"`
		}{a.group(g)}, nil
	},
	"GetGroup": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName"); err != nil {
			return nil, err
		}
		g, members, err := a.ids.GetGroup(r.Form.Get("GroupName"))
		if err != nil {
			return nil, err
		}
		out := struct {
			Group xmlGroup  `xml:"Group"`
			Users []xmlUser `xml:"Users>member"`
			listResult
		}{Group: a.group(g), Users: []xmlUser{}}
		for _, u := range members {
			out.Users = append(out.Users, a.user(u))
		}
		return out, nil
	},
	"DeleteGroup": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteGroup(ctx, r.Form.Get("GroupName"))
	},
	"ListGroups": func(a *API, ctx context.Context, r *Request) (any, error) {
		out := struct {
			Groups []xmlGroup `xml:"Groups>member"`
			listResult
		}{Groups: []xmlGroup{}}
		for _, g := range a.ids.ListGroups(pathPrefix(r)) {
			out.Groups = append(out.Groups, a.group(g))
		}
		return out, nil
	},
	"AddUserToGroup": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName", "UserName"); err != nil {
			return nil, err
		}
		return nil, a.ids.SetMembership(ctx, r.Form.Get("GroupName"), r.Form.Get("UserName"), true)
	},
	"RemoveUserFromGroup": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName", "UserName"); err != nil {
			return nil, err
		}
		return nil, a.ids.SetMembership(ctx, r.Form.Get("GroupName"), r.Form.Get("UserName"), false)
	},
	"CreatePolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "PolicyName", "PolicyDocument"); err != nil {
			return nil, err
		}
		p, err := a.ids.CreatePolicy(ctx, r.Form.Get("PolicyName"), r.Form.Get("Path"), r.Form.Get("PolicyDocument"), r.Form.Get("Description"))
		if err != nil {
			return nil, err
		}
		return struct {
			Policy xmlPolicy `xml:"Policy"`
		}{a.policy(p, 0)}, nil
	},
	"GetPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "PolicyArn"); err != nil {
			return nil, err
		}
		p, n, err := a.ids.GetPolicy(r.Form.Get("PolicyArn"))
		if err != nil {
			return nil, err
		}
		return struct {
			Policy xmlPolicy `xml:"Policy"`
		}{a.policy(p, n)}, nil
	},
	"GetPolicyVersion": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "PolicyArn", "VersionId"); err != nil {
			return nil, err
		}
		p, _, err := a.ids.GetPolicy(r.Form.Get("PolicyArn"))
		if err != nil {
			return nil, err
		}
		if r.Form.Get("VersionId") != "v1" {
			return nil, errf(404, "NoSuchEntity", "Policy %s version %s does not exist or is not attachable.", r.Form.Get("PolicyArn"), r.Form.Get("VersionId"))
		}
		return struct {
			Document         string `xml:"PolicyVersion>Document"`
			VersionID        string `xml:"PolicyVersion>VersionId"`
			IsDefaultVersion bool   `xml:"PolicyVersion>IsDefaultVersion"`
			CreateDate       string `xml:"PolicyVersion>CreateDate"`
		}{urlEncodeDoc(p.Document), "v1", true, isoTime(p.Created)}, nil
	},
	"DeletePolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "PolicyArn"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeletePolicy(ctx, r.Form.Get("PolicyArn"))
	},
	"ListPolicies": func(a *API, ctx context.Context, r *Request) (any, error) {
		out := struct {
			Policies []xmlPolicy `xml:"Policies>member"`
			listResult
		}{Policies: []xmlPolicy{}}
		if r.Form.Get("Scope") == "AWS" {
			return out, nil // no AWS managed policies here
		}
		for _, p := range a.ids.ListPolicies(pathPrefix(r)) {
			_, n, _ := a.ids.GetPolicy(a.ids.PolicyARN(&p))
			if r.Form.Get("OnlyAttached") == "true" && n == 0 {
				continue
			}
			out.Policies = append(out.Policies, a.policy(p, n))
		}
		return out, nil
	},
	"AttachUserPolicy":          attach("UserName", "user", true),
	"DetachUserPolicy":          attach("UserName", "user", false),
	"AttachGroupPolicy":         attach("GroupName", "group", true),
	"DetachGroupPolicy":         attach("GroupName", "group", false),
	"AttachRolePolicy":          attach("RoleName", "role", true),
	"DetachRolePolicy":          attach("RoleName", "role", false),
	"ListAttachedUserPolicies":  listAttached("UserName", "user"),
	"ListAttachedGroupPolicies": listAttached("GroupName", "group"),
	"ListAttachedRolePolicies":  listAttached("RoleName", "role"),
	"PutUserPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName", "PolicyName", "PolicyDocument"); err != nil {
			return nil, err
		}
		return nil, a.ids.PutUserPolicy(ctx, r.Form.Get("UserName"), r.Form.Get("PolicyName"), r.Form.Get("PolicyDocument"))
	},
	"GetUserPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName", "PolicyName"); err != nil {
			return nil, err
		}
		doc, err := a.ids.UserPolicy(r.Form.Get("UserName"), r.Form.Get("PolicyName"))
		if err != nil {
			return nil, err
		}
		return struct {
			UserName       string `xml:"UserName"`
			PolicyName     string `xml:"PolicyName"`
			PolicyDocument string `xml:"PolicyDocument"`
		}{r.Form.Get("UserName"), r.Form.Get("PolicyName"), urlEncodeDoc(doc)}, nil
	},
	"DeleteUserPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName", "PolicyName"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteUserPolicy(ctx, r.Form.Get("UserName"), r.Form.Get("PolicyName"))
	},
	"ListUserPolicies": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "UserName"); err != nil {
			return nil, err
		}
		names, err := a.ids.ListUserPolicies(r.Form.Get("UserName"))
		if err != nil {
			return nil, err
		}
		return struct {
			PolicyNames []string `xml:"PolicyNames>member"`
			listResult
		}{PolicyNames: append([]string{}, names...)}, nil
	},
	"PutGroupPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName", "PolicyName", "PolicyDocument"); err != nil {
			return nil, err
		}
		return nil, a.ids.PutGroupPolicy(ctx, r.Form.Get("GroupName"), r.Form.Get("PolicyName"), r.Form.Get("PolicyDocument"))
	},
	"DeleteGroupPolicy": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "GroupName", "PolicyName"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteGroupPolicy(ctx, r.Form.Get("GroupName"), r.Form.Get("PolicyName"))
	},
	"CreateRole": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "RoleName", "AssumeRolePolicyDocument"); err != nil {
			return nil, err
		}
		max, err := intParam(r.Form, "MaxSessionDuration", 0, 3600, 43200)
		if err != nil {
			return nil, err
		}
		role, err := a.ids.CreateRole(ctx, r.Form.Get("RoleName"), r.Form.Get("Path"), r.Form.Get("AssumeRolePolicyDocument"), r.Form.Get("Description"), max)
		if err != nil {
			return nil, err
		}
		return struct {
			Role xmlRole `xml:"Role"`
		}{a.role(role)}, nil
	},
	"GetRole": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "RoleName"); err != nil {
			return nil, err
		}
		role, err := a.ids.GetRole(r.Form.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		return struct {
			Role xmlRole `xml:"Role"`
		}{a.role(role)}, nil
	},
	"DeleteRole": func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, "RoleName"); err != nil {
			return nil, err
		}
		return nil, a.ids.DeleteRole(ctx, r.Form.Get("RoleName"))
	},
}

func pathPrefix(r *Request) string {
	if p := r.Form.Get("PathPrefix"); p != "" {
		return p
	}
	return "/"
}

func attach(param, kind string, on bool) handler {
	return func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, param, "PolicyArn"); err != nil {
			return nil, err
		}
		name, arn := r.Form.Get(param), r.Form.Get("PolicyArn")
		switch kind {
		case "user":
			return nil, a.ids.AttachUserPolicy(ctx, name, arn, on)
		case "group":
			return nil, a.ids.AttachGroupPolicy(ctx, name, arn, on)
		}
		return nil, a.ids.AttachRolePolicy(ctx, name, arn, on)
	}
}

func listAttached(param, kind string) handler {
	return func(a *API, ctx context.Context, r *Request) (any, error) {
		if err := required(r.Form, param); err != nil {
			return nil, err
		}
		ps, err := a.ids.AttachedPolicies(kind, r.Form.Get(param))
		if err != nil {
			return nil, err
		}
		return struct {
			AttachedPolicies []xmlAttached `xml:"AttachedPolicies>member"`
			listResult
		}{AttachedPolicies: a.attachedList(ps)}, nil
	}
}
