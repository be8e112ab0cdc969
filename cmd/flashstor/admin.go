package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"
)

const adminUsage = `usage: flashstor admin [--endpoint URL] [--region R] COMMAND ...

Administers the IAM identities of a running server through its IAM API (the one the
aws CLI calls with --endpoint-url). Credentials: FLASHSTORE_ROOT_USER and
FLASHSTORE_ROOT_PASSWORD, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of a user
allowed the iam: actions.

  user list
  user add NAME
  user remove NAME
  user info NAME
  user key add NAME            prints the new key's secret, once
  user key list NAME
  user key enable|disable NAME KEYID
  user key remove NAME KEYID
  user attach|detach NAME POLICY
  user inline NAME POLICYNAME FILE
  group list
  group add|remove NAME
  group info NAME
  group add-user|remove-user GROUP USER
  group attach|detach GROUP POLICY
  policy list
  policy add NAME FILE          FILE holds the policy document ("-": standard input)
  policy show NAME
  policy remove NAME

POLICY is a managed policy's name or ARN.
`

// admin is one run of the admin command.
type admin struct {
	ctx     context.Context
	iam     *iam.Client
	sts     *stssdk.Client
	stdout  io.Writer
	stdin   io.Reader
	account string
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	endpoint := fs.String("endpoint", envOr("FLASHSTOR_ENDPOINT", "http://127.0.0.1:9000"), "server `URL`")
	region := fs.String("region", "us-east-1", "the server's region")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, secret := os.Getenv("FLASHSTORE_ROOT_USER"), os.Getenv("FLASHSTORE_ROOT_PASSWORD")
	if key == "" {
		key, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if key == "" || secret == "" {
		return errors.New("admin: set FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	creds := credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))
	a := &admin{ctx: ctx, stdout: stdout, stdin: os.Stdin,
		iam: iam.New(iam.Options{Region: *region, BaseEndpoint: endpoint, Credentials: creds, RetryMaxAttempts: 1}),
		sts: stssdk.New(stssdk.Options{Region: *region, BaseEndpoint: endpoint, Credentials: creds, RetryMaxAttempts: 1}),
	}
	rest := fs.Args()
	if len(rest) < 2 {
		fs.Usage()
		return flag.ErrHelp
	}
	switch rest[0] {
	case "user":
		return a.user(rest[1], rest[2:])
	case "group":
		return a.group(rest[1], rest[2:])
	case "policy":
		return a.policy(rest[1], rest[2:])
	}
	fs.Usage()
	return fmt.Errorf("admin: unknown command %q", rest[0])
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// need checks the argument count of a subcommand.
func need(args []string, n int, usage string) error {
	if len(args) != n {
		return fmt.Errorf("admin: usage: %s", usage)
	}
	return nil
}

// table prints rows under a header, aligned.
func (a *admin) table(header string, rows [][]string) {
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

func date(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// policyARN turns a policy name into its ARN in the caller's account.
func (a *admin) policyARN(nameOrARN string) (*string, error) {
	if strings.HasPrefix(nameOrARN, "arn:") {
		return aws.String(nameOrARN), nil
	}
	if a.account == "" {
		who, err := a.sts.GetCallerIdentity(a.ctx, &stssdk.GetCallerIdentityInput{})
		if err != nil {
			return nil, err
		}
		a.account = aws.ToString(who.Account)
	}
	return aws.String("arn:aws:iam::" + a.account + ":policy/" + nameOrARN), nil
}

func (a *admin) readDoc(file string) (*string, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(a.stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	return aws.String(string(b)), nil
}

func (a *admin) user(cmd string, args []string) error {
	ctx, c := a.ctx, a.iam
	switch cmd {
	case "list":
		out, err := c.ListUsers(ctx, &iam.ListUsersInput{})
		if err != nil {
			return err
		}
		var rows [][]string
		for _, u := range out.Users {
			rows = append(rows, []string{aws.ToString(u.UserName), aws.ToString(u.UserId), date(u.CreateDate), aws.ToString(u.Arn)})
		}
		a.table("NAME\tID\tCREATED\tARN", rows)
		return nil
	case "add":
		if err := need(args, 1, "user add NAME"); err != nil {
			return err
		}
		out, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &args[0]})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "created user %s (%s)\n", args[0], aws.ToString(out.User.Arn))
		return nil
	case "remove":
		if err := need(args, 1, "user remove NAME"); err != nil {
			return err
		}
		_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &args[0]})
		return err
	case "info":
		if err := need(args, 1, "user info NAME"); err != nil {
			return err
		}
		u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: &args[0]})
		if err != nil {
			return err
		}
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &args[0]})
		if err != nil {
			return err
		}
		att, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: &args[0]})
		if err != nil {
			return err
		}
		inl, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: &args[0]})
		if err != nil {
			return err
		}
		rows := [][]string{{"name", aws.ToString(u.User.UserName)}, {"id", aws.ToString(u.User.UserId)}, {"arn", aws.ToString(u.User.Arn)}, {"created", date(u.User.CreateDate)}}
		for _, k := range keys.AccessKeyMetadata {
			rows = append(rows, []string{"access key", aws.ToString(k.AccessKeyId) + " " + string(k.Status)})
		}
		for _, p := range att.AttachedPolicies {
			rows = append(rows, []string{"attached policy", aws.ToString(p.PolicyName)})
		}
		for _, p := range inl.PolicyNames {
			rows = append(rows, []string{"inline policy", p})
		}
		a.table("FIELD\tVALUE", rows)
		return nil
	case "key":
		return a.userKey(args)
	case "attach", "detach":
		if err := need(args, 2, "user "+cmd+" NAME POLICY"); err != nil {
			return err
		}
		arn, err := a.policyARN(args[1])
		if err != nil {
			return err
		}
		if cmd == "attach" {
			_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &args[0], PolicyArn: arn})
		} else {
			_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &args[0], PolicyArn: arn})
		}
		return err
	case "inline":
		if err := need(args, 3, "user inline NAME POLICYNAME FILE"); err != nil {
			return err
		}
		doc, err := a.readDoc(args[2])
		if err != nil {
			return err
		}
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &args[0], PolicyName: &args[1], PolicyDocument: doc})
		return err
	}
	return fmt.Errorf("admin: unknown user command %q", cmd)
}

func (a *admin) userKey(args []string) error {
	ctx, c := a.ctx, a.iam
	if len(args) < 2 {
		return errors.New("admin: usage: user key add|list|enable|disable|remove NAME [KEYID]")
	}
	sub, name := args[0], args[1]
	switch sub {
	case "add":
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
		if err != nil {
			return err
		}
		a.table("ACCESS KEY\tSECRET KEY", [][]string{{aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)}})
		fmt.Fprintln(a.stdout, "The secret key is shown this once: keep it now.")
		return nil
	case "list":
		out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &name})
		if err != nil {
			return err
		}
		var rows [][]string
		for _, k := range out.AccessKeyMetadata {
			rows = append(rows, []string{aws.ToString(k.AccessKeyId), string(k.Status), date(k.CreateDate)})
		}
		a.table("ACCESS KEY\tSTATUS\tCREATED", rows)
		return nil
	case "enable", "disable", "remove":
		if err := need(args, 3, "user key "+sub+" NAME KEYID"); err != nil {
			return err
		}
		var err error
		switch sub {
		case "enable":
			_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &name, AccessKeyId: &args[2], Status: types.StatusTypeActive})
		case "disable":
			_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &name, AccessKeyId: &args[2], Status: types.StatusTypeInactive})
		default:
			_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &name, AccessKeyId: &args[2]})
		}
		return err
	}
	return fmt.Errorf("admin: unknown key command %q", sub)
}

func (a *admin) group(cmd string, args []string) error {
	ctx, c := a.ctx, a.iam
	switch cmd {
	case "list":
		out, err := c.ListGroups(ctx, &iam.ListGroupsInput{})
		if err != nil {
			return err
		}
		var rows [][]string
		for _, g := range out.Groups {
			rows = append(rows, []string{aws.ToString(g.GroupName), aws.ToString(g.GroupId), date(g.CreateDate), aws.ToString(g.Arn)})
		}
		a.table("NAME\tID\tCREATED\tARN", rows)
		return nil
	case "add", "remove":
		if err := need(args, 1, "group "+cmd+" NAME"); err != nil {
			return err
		}
		var err error
		if cmd == "add" {
			_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: &args[0]})
		} else {
			_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: &args[0]})
		}
		return err
	case "info":
		if err := need(args, 1, "group info NAME"); err != nil {
			return err
		}
		g, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: &args[0]})
		if err != nil {
			return err
		}
		att, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: &args[0]})
		if err != nil {
			return err
		}
		rows := [][]string{{"name", aws.ToString(g.Group.GroupName)}, {"arn", aws.ToString(g.Group.Arn)}}
		for _, u := range g.Users {
			rows = append(rows, []string{"member", aws.ToString(u.UserName)})
		}
		for _, p := range att.AttachedPolicies {
			rows = append(rows, []string{"attached policy", aws.ToString(p.PolicyName)})
		}
		a.table("FIELD\tVALUE", rows)
		return nil
	case "add-user", "remove-user":
		if err := need(args, 2, "group "+cmd+" GROUP USER"); err != nil {
			return err
		}
		var err error
		if cmd == "add-user" {
			_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: &args[0], UserName: &args[1]})
		} else {
			_, err = c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: &args[0], UserName: &args[1]})
		}
		return err
	case "attach", "detach":
		if err := need(args, 2, "group "+cmd+" GROUP POLICY"); err != nil {
			return err
		}
		arn, err := a.policyARN(args[1])
		if err != nil {
			return err
		}
		if cmd == "attach" {
			_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: &args[0], PolicyArn: arn})
		} else {
			_, err = c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: &args[0], PolicyArn: arn})
		}
		return err
	}
	return fmt.Errorf("admin: unknown group command %q", cmd)
}

func (a *admin) policy(cmd string, args []string) error {
	ctx, c := a.ctx, a.iam
	switch cmd {
	case "list":
		out, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
		if err != nil {
			return err
		}
		var rows [][]string
		for _, p := range out.Policies {
			rows = append(rows, []string{aws.ToString(p.PolicyName), fmt.Sprint(aws.ToInt32(p.AttachmentCount)), date(p.CreateDate), aws.ToString(p.Arn)})
		}
		a.table("NAME\tATTACHED\tCREATED\tARN", rows)
		return nil
	case "add":
		if err := need(args, 2, "policy add NAME FILE"); err != nil {
			return err
		}
		doc, err := a.readDoc(args[1])
		if err != nil {
			return err
		}
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &args[0], PolicyDocument: doc})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "created policy %s (%s)\n", args[0], aws.ToString(out.Policy.Arn))
		return nil
	case "show":
		if err := need(args, 1, "policy show NAME"); err != nil {
			return err
		}
		arn, err := a.policyARN(args[0])
		if err != nil {
			return err
		}
		v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v1")})
		if err != nil {
			return err
		}
		doc, err := urlDecode(aws.ToString(v.PolicyVersion.Document))
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, doc)
		return nil
	case "remove":
		if err := need(args, 1, "policy remove NAME"); err != nil {
			return err
		}
		arn, err := a.policyARN(args[0])
		if err != nil {
			return err
		}
		_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
		return err
	}
	return fmt.Errorf("admin: unknown policy command %q", cmd)
}

// urlDecode decodes a policy document as IAM returns it (percent-encoded).
func urlDecode(s string) (string, error) { return url.PathUnescape(s) }
