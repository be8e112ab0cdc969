package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/flashstor/flashstor/iam/iamapi"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/sts"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend"
)

// iamEnv is a server with IAM and STS; stsLag moves the STS clock back, so that a test
// gets credentials that are already expired without waiting.
type iamEnv struct {
	*env
	stsLag atomic.Int64 // nanoseconds
}

func startIAM(t testing.TB, transport string) *iamEnv { return startIAMWith(t, transport, nil) }

// startIAMWith is startIAM with more changes to the handler's configuration.
func startIAMWith(t testing.TB, transport string, mod func(*s3frontend.Config)) *iamEnv {
	ie := &iamEnv{}
	ie.env = start(t, transport, func(o *envOptions) {
		o.handler = func(hc *s3frontend.Config) {
			ids, err := identity.Open(context.Background(), identity.Config{
				Store: identity.NewObjectStore(hc.Layer.(objstore.SystemConfigStore), "iam"), RootSecret: testSecretKey})
			if err != nil {
				t.Fatal(err)
			}
			issuer := sts.NewIssuer(testSecretKey)
			hc.Identities, hc.Issuer = ids, issuer
			hc.QueryAPI = iamapi.New(ids, issuer, func() time.Time { return time.Now().Add(-time.Duration(ie.stsLag.Load())) })
			if mod != nil {
				mod(hc)
			}
		}
	})
	return ie
}

// countingClient is an HTTP client with one connection at most, which counts its dials:
// a test that sees one dial saw every request on the same keep-alive connection.
func countingClient(dials *atomic.Int32) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func (e *iamEnv) iam(key, secret, token string) *iam.Client {
	return iam.New(iam.Options{Region: testRegion, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)})
}

func (e *iamEnv) sts(key, secret, token string) *stssdk.Client {
	return stssdk.New(stssdk.Options{Region: testRegion, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)})
}

func (e *iamEnv) s3As(key, secret, token string, hc *http.Client) *s3.Client {
	return e.sdk(func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		if hc != nil {
			o.HTTPClient = hc
		}
	})
}

// newUser creates a user with an access key and the inline policies docs, through IAM.
func (e *iamEnv) newUser(t testing.TB, name string, docs ...string) (key, secret string) {
	t.Helper()
	ctx := context.Background()
	root := e.iam(testAccessKey, testSecretKey, "")
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	for i, d := range docs {
		_, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p" + string(rune('0'+i))), PolicyDocument: aws.String(d)})
		if err != nil {
			t.Fatalf("PutUserPolicy: %v", err)
		}
	}
	out, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	return *out.AccessKey.AccessKeyId, *out.AccessKey.SecretAccessKey
}

func put(t *testing.T, c *s3.Client, bucket, key, body string) error {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	return err
}

func get(c *s3.Client, bucket, key string) (string, error) {
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

const homePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::team/home/${aws:username}/*"},
 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::team","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}]}`

// TestIAMPrefixUser: a user limited to one prefix reads, writes and lists there and gets
// AccessDenied elsewhere; a Deny beats an Allow; revoking a policy, then the key, takes
// effect on the very next request of the same keep-alive connection.
func TestIAMPrefixUser(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := startIAM(t, tr)
			ctx := context.Background()
			root := e.s3As(testAccessKey, testSecretKey, "", nil)
			_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("team")})
			mustOK(t, "CreateBucket", err)
			mustOK(t, "root put", put(t, root, "team", "home/bob/x", "bob's"))
			key, secret := e.newUser(t, "alice", homePolicy)
			var dials atomic.Int32
			alice := e.s3As(key, secret, "", countingClient(&dials))

			mustOK(t, "alice put in her home", put(t, alice, "team", "home/alice/f", "hers"))
			if got, err := get(alice, "team", "home/alice/f"); err != nil || got != "hers" {
				t.Fatalf("alice get in her home: %q, %v", got, err)
			}
			wantCode(t, "alice put in bob's home", put(t, alice, "team", "home/bob/y", "x"), "AccessDenied")
			_, err = get(alice, "team", "home/bob/x")
			wantCode(t, "alice get in bob's home", err, "AccessDenied")
			_, err = get(alice, "team", "home/alice/missing")
			wantCode(t, "alice get of a missing key (she may not list it all)", err, "AccessDenied")
			_, err = alice.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("team"), Prefix: aws.String("home/alice/")})
			mustOK(t, "alice lists her home", err)
			_, err = alice.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("team"), Prefix: aws.String("home/bob/")})
			wantCode(t, "alice lists bob's home", err, "AccessDenied")
			_, err = alice.ListBuckets(ctx, &s3.ListBucketsInput{})
			wantCode(t, "alice lists the buckets", err, "AccessDenied")

			// DeleteObjects decides each key: hers goes, bob's stays.
			mustOK(t, "alice put a second", put(t, alice, "team", "home/alice/g", "g"))
			del, err := alice.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("team"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
				{Key: aws.String("home/alice/g")}, {Key: aws.String("home/bob/x")}}}})
			mustOK(t, "DeleteObjects", err)
			if len(del.Deleted) != 1 || aws.ToString(del.Deleted[0].Key) != "home/alice/g" || len(del.Errors) != 1 ||
				aws.ToString(del.Errors[0].Key) != "home/bob/x" || aws.ToString(del.Errors[0].Code) != "AccessDenied" {
				t.Fatalf("DeleteObjects: deleted %+v, errors %+v", del.Deleted, del.Errors)
			}
			if got, err := get(root, "team", "home/bob/x"); err != nil || got != "bob's" {
				t.Fatalf("bob's object after alice's DeleteObjects: %q %v", got, err)
			}
			// Copies need s3:GetObject on the source.
			_, err = alice.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("team"), Key: aws.String("home/alice/stolen"), CopySource: aws.String("team/home/bob/x")})
			wantCode(t, "alice copies bob's object into her home", err, "AccessDenied")
			_, err = alice.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("team"), Key: aws.String("home/alice/copy"), CopySource: aws.String("team/home/alice/f")})
			mustOK(t, "alice copies within her home", err)

			// A Deny beats the Allow.
			rootIAM := e.iam(testAccessKey, testSecretKey, "")
			pol, err := rootIAM.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("nodelete"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`)})
			mustOK(t, "CreatePolicy", err)
			_, err = rootIAM.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Policy.Arn})
			mustOK(t, "AttachUserPolicy", err)
			_, err = alice.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("team"), Key: aws.String("home/alice/f")})
			wantCode(t, "delete denied beside an allow", err, "AccessDenied")

			// Revocations, each seen by the very next request on alice's one connection.
			// (net/http's server closes a connection after some refusals that leave a
			// body unread, so the count starts from a request that succeeded.)
			if _, err := alice.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("team"), Key: aws.String("home/alice/f")}); err != nil {
				t.Fatal(err)
			}
			before := dials.Load()
			_, err = rootIAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p0")})
			mustOK(t, "DeleteUserPolicy", err)
			_, err = get(alice, "team", "home/alice/f")
			wantCode(t, "get after the policy's revocation", err, "AccessDenied")
			_, err = rootIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p0"), PolicyDocument: aws.String(homePolicy)})
			mustOK(t, "PutUserPolicy again", err)
			if _, err := get(alice, "team", "home/alice/f"); err != nil {
				t.Fatalf("get after the policy came back: %v", err)
			}
			_, err = rootIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(key), Status: "Inactive"})
			mustOK(t, "UpdateAccessKey Inactive", err)
			_, err = get(alice, "team", "home/alice/f")
			wantCode(t, "get with the deactivated key", err, "InvalidAccessKeyId")
			if n := dials.Load(); n != before {
				t.Fatalf("alice's client dialled %d times during the revocations; the test wants them on one connection", n-before)
			}
			hits, misses := e.handler.Authorizer().Stats()
			t.Logf("decision cache: %d hits, %d misses", hits, misses)
		})
	}
}

// TestIAMErrors: the IAM errors the SDK sees, as IAM sends them.
func TestIAMErrors(t *testing.T) {
	e := startIAM(t, "epoll")
	ctx := context.Background()
	root := e.iam(testAccessKey, testSecretKey, "")
	e.newUser(t, "carol")
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol")})
	wantCode(t, "CreateUser twice", err, "EntityAlreadyExists")
	_, err = root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantCode(t, "GetUser of nobody", err, "NoSuchEntity")
	_, err = root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`)})
	wantCode(t, "CreatePolicy with a bad Effect", err, "MalformedPolicyDocument")
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	mustOK(t, "second key", err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	wantCode(t, "third key", err, "LimitExceeded")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("carol")})
	wantCode(t, "DeleteUser with keys", err, "DeleteConflict")
	users, err := root.ListUsers(ctx, &iam.ListUsersInput{})
	mustOK(t, "ListUsers", err)
	if len(users.Users) != 1 || *users.Users[0].UserName != "carol" || !strings.HasPrefix(*users.Users[0].Arn, "arn:aws:iam::") {
		t.Fatalf("ListUsers = %+v", users.Users)
	}
	keys, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("carol")})
	mustOK(t, "ListAccessKeys", err)
	if len(keys.AccessKeyMetadata) != 2 {
		t.Fatalf("ListAccessKeys = %d keys", len(keys.AccessKeyMetadata))
	}
	// A user without IAM permissions may not administer.
	k, s := e.newUser(t, "dave")
	_, err = e.iam(k, s, "").CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("eve")})
	wantCode(t, "CreateUser by a user without iam:CreateUser", err, "AccessDenied")
	// Groups give their policies to their members.
	_, err = root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")})
	mustOK(t, "CreateGroup", err)
	_, err = root.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("admins"), PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`)})
	mustOK(t, "PutGroupPolicy", err)
	_, err = root.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("dave")})
	mustOK(t, "AddUserToGroup", err)
	_, err = e.iam(k, s, "").CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("eve")})
	mustOK(t, "CreateUser by a member of admins", err)
	g, err := root.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("admins")})
	mustOK(t, "GetGroup", err)
	if len(g.Users) != 1 || *g.Users[0].UserName != "dave" {
		t.Fatalf("GetGroup members %+v", g.Users)
	}
	me, err := root.GetUser(ctx, &iam.GetUserInput{})
	mustOK(t, "GetUser of the root user", err)
	if !strings.HasSuffix(aws.ToString(me.User.Arn), ":root") {
		t.Fatalf("root's GetUser: %s", aws.ToString(me.User.Arn))
	}
	doc, err := root.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("none")})
	wantCode(t, "GetUserPolicy of none", err, "NoSuchEntity")
	_ = doc
}

// TestBucketPolicyAnonymous: a bucket policy publishes a prefix to anonymous readers, and
// nothing else; its removal takes effect on the next request.
func TestBucketPolicyAnonymous(t *testing.T) {
	e := startIAM(t, "epoll")
	ctx := context.Background()
	root := e.s3As(testAccessKey, testSecretKey, "", nil)
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")})
	mustOK(t, "CreateBucket", err)
	mustOK(t, "put public", put(t, root, "site", "public/index.html", "hello"))
	mustOK(t, "put private", put(t, root, "site", "private/key", "secret"))
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/public/*"}]}`
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(doc)})
	mustOK(t, "PutBucketPolicy", err)
	got, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	mustOK(t, "GetBucketPolicy", err)
	if *got.Policy != doc {
		t.Fatalf("GetBucketPolicy = %s", *got.Policy)
	}
	st, err := root.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("site")})
	mustOK(t, "GetBucketPolicyStatus", err)
	if st.PolicyStatus == nil || !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("policy status %+v, want public", st.PolicyStatus)
	}
	anon := &http.Client{}
	status := func(path string) int {
		resp, err := anon.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/site/public/index.html"); s != 200 {
		t.Fatalf("anonymous public read: %d", s)
	}
	if s := status("/site/private/key"); s != 403 {
		t.Fatalf("anonymous private read: %d", s)
	}
	if s := status("/site?list-type=2"); s != 403 {
		t.Fatalf("anonymous list: %d", s)
	}
	req, _ := http.NewRequest("PUT", e.url+"/site/public/new", bytes.NewReader([]byte("x")))
	if resp, err := anon.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("anonymous write: %v %v", resp, err)
	}
	for _, bad := range []struct{ doc, want string }{
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`, "invalid resource"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`, "Principal"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Foo":"bar"}]}`, "Unknown field Foo"},
		{`not json`, "valid JSON"},
	} {
		_, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(bad.doc)})
		wantCode(t, "PutBucketPolicy "+bad.doc, err, "MalformedPolicy")
		if !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("PutBucketPolicy %s: %v, want a message with %q", bad.doc, err, bad.want)
		}
	}
	// The bucket removed and made again behind the S3 face's back (as the mount does):
	// the new bucket has no policy, and the cache does not lend it the old one.
	mustOK(t, "put for the copy", put(t, root, "site", "public/again", "x"))
	for _, k := range []string{"public/index.html", "private/key", "public/again"} {
		mustOK(t, "layer delete", e.layer.DeleteObject(ctx, "site", k))
	}
	mustOK(t, "layer DeleteBucket", e.layer.DeleteBucket(ctx, "site"))
	mustOK(t, "layer MakeBucket", e.layer.MakeBucket(ctx, "site", objstore.MakeBucketOptions{}))
	mustOK(t, "put into the new bucket", put(t, root, "site", "public/index.html", "new"))
	if s := status("/site/public/index.html"); s != 403 {
		t.Fatalf("anonymous read of the new bucket of the same name: %d", s)
	}
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(doc)})
	mustOK(t, "PutBucketPolicy again", err)
	_, err = root.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("site")})
	mustOK(t, "DeleteBucketPolicy", err)
	if s := status("/site/public/index.html"); s != 403 {
		t.Fatalf("anonymous read after the policy's removal: %d", s)
	}
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	wantCode(t, "GetBucketPolicy after the removal", err, "NoSuchBucketPolicy")
}

// TestSTSCredentials: temporary credentials from GetSessionToken and AssumeRole work
// within their user's, role's and session policy's limits, expire, and are refused when
// tampered with or when their user is gone.
func TestSTSCredentials(t *testing.T) {
	e := startIAM(t, "epoll")
	ctx := context.Background()
	root := e.s3As(testAccessKey, testSecretKey, "", nil)
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")})
	mustOK(t, "CreateBucket", err)
	mustOK(t, "root put", put(t, root, "data", "report", "numbers"))
	key, secret := e.newUser(t, "bob", `{"Statement":[{"Effect":"Allow","Action":["s3:*","sts:AssumeRole"],"Resource":"*"}]}`)

	tok, err := e.sts(key, secret, "").GetSessionToken(ctx, &stssdk.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	mustOK(t, "GetSessionToken", err)
	c := tok.Credentials
	if !strings.HasPrefix(*c.AccessKeyId, "ASIA") || c.Expiration.Before(time.Now().Add(14*time.Minute)) {
		t.Fatalf("credentials %s expiring %v", *c.AccessKeyId, c.Expiration)
	}
	sess := e.s3As(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, nil)
	mustOK(t, "put with session credentials", put(t, sess, "data", "from-session", "x"))
	who, err := e.sts(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken).GetCallerIdentity(ctx, &stssdk.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if !strings.HasSuffix(*who.Arn, ":user/bob") {
		t.Fatalf("caller %s", *who.Arn)
	}
	tampered := []byte(*c.SessionToken)
	tampered[len(tampered)/2] ^= 0x01
	_, err = get(e.s3As(*c.AccessKeyId, *c.SecretAccessKey, string(tampered), nil), "data", "report")
	wantCode(t, "tampered token", err, "InvalidToken")
	_, err = get(e.s3As(*c.AccessKeyId, *c.SecretAccessKey, "", nil), "data", "report")
	wantCode(t, "session key without its token", err, "InvalidToken")

	// Expired: credentials issued by a clock 901 s behind have expired already.
	e.stsLag.Store(int64(901 * time.Second))
	old, err := e.sts(key, secret, "").GetSessionToken(ctx, &stssdk.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	mustOK(t, "GetSessionToken (lagging clock)", err)
	e.stsLag.Store(0)
	_, err = get(e.s3As(*old.Credentials.AccessKeyId, *old.Credentials.SecretAccessKey, *old.Credentials.SessionToken, nil), "data", "report")
	wantCode(t, "expired token", err, "ExpiredToken")

	// AssumeRole, with a session policy narrower than the role's.
	rootIAM := e.iam(testAccessKey, testSecretKey, "")
	u, err := rootIAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
	mustOK(t, "GetUser", err)
	role, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("reader"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + *u.User.Arn + `"},"Action":"sts:AssumeRole"}]}`)})
	mustOK(t, "CreateRole", err)
	rp, err := rootIAM.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("readall"),
		PolicyDocument: aws.String(`{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}`)})
	mustOK(t, "CreatePolicy", err)
	_, err = rootIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("reader"), PolicyArn: rp.Policy.Arn})
	mustOK(t, "AttachRolePolicy", err)
	ar, err := e.sts(key, secret, "").AssumeRole(ctx, &stssdk.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("nightly"),
		Policy: aws.String(`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	mustOK(t, "AssumeRole", err)
	if !strings.HasSuffix(*ar.AssumedRoleUser.Arn, ":assumed-role/reader/nightly") {
		t.Fatalf("assumed role %s", *ar.AssumedRoleUser.Arn)
	}
	rc := ar.Credentials
	rs := e.s3As(*rc.AccessKeyId, *rc.SecretAccessKey, *rc.SessionToken, nil)
	if got, err := get(rs, "data", "report"); err != nil || got != "numbers" {
		t.Fatalf("role session read: %q %v", got, err)
	}
	wantCode(t, "role session write (outside the session policy)", put(t, rs, "data", "x", "y"), "AccessDenied")
	_, err = e.sts(testAccessKey, testSecretKey, "").AssumeRole(ctx, &stssdk.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("root")})
	wantCode(t, "AssumeRole by root", err, "AccessDenied")
	k2, s2 := e.newUser(t, "mallory", `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)
	_, err = e.sts(k2, s2, "").AssumeRole(ctx, &stssdk.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("x1")})
	wantCode(t, "AssumeRole by a user the trust policy does not name", err, "AccessDenied")

	// Bob is deleted: his session goes with him.
	_, err = rootIAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p0")})
	mustOK(t, "DeleteUserPolicy", err)
	_, err = rootIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(key)})
	mustOK(t, "DeleteAccessKey", err)
	_, err = rootIAM.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	mustOK(t, "DeleteUser", err)
	_, err = get(sess, "data", "report")
	wantCode(t, "session of a deleted user", err, "InvalidToken")
}

// TestIAMDenialsCounted: every refusal by policy counts in the security metrics, and so
// do refused session tokens, expired apart.
func TestIAMDenialsCounted(t *testing.T) {
	e := startIAMWith(t, "epoll", func(hc *s3frontend.Config) { hc.Metrics = metrics.New() })
	ctx := context.Background()
	root := e.s3As(testAccessKey, testSecretKey, "", nil)
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mtr")})
	mustOK(t, "CreateBucket", err)
	key, secret := e.newUser(t, "u", `{"Statement":[{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"},{"Effect":"Allow","Action":"sts:GetSessionToken","Resource":"*"}]}`)
	u := e.s3As(key, secret, "", nil)
	for range 3 {
		wantCode(t, "denied put", put(t, u, "mtr", "k", "v"), "AccessDenied")
	}
	_, err = get(u, "mtr", "k")
	wantCode(t, "get without an allow", err, "AccessDenied")
	e.stsLag.Store(int64(time.Hour))
	old, err := e.sts(key, secret, "").GetSessionToken(ctx, &stssdk.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	mustOK(t, "GetSessionToken", err)
	_, err = get(e.s3As(*old.Credentials.AccessKeyId, *old.Credentials.SecretAccessKey, *old.Credentials.SessionToken, nil), "mtr", "k")
	wantCode(t, "expired", err, "ExpiredToken")
	_, fams := scrapeMetrics(t, e.env, "")
	for _, x := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flashstor_security_access_denied_total", []string{"operation", "PutObject"}, 3},
		{"flashstor_security_access_denied_total", []string{"operation", "GetObject"}, 1},
		{"flashstor_security_token_failures_total", []string{"reason", "expired"}, 1},
	} {
		if got, ok := fams.Value(x.name, x.labels...); !ok || got != x.want {
			t.Errorf("%s%v = %v (present %v), want %v", x.name, x.labels, got, ok, x.want)
		}
	}
}

// TestIAMHostile: the query API's answers to forms no SDK sends.
func TestIAMHostile(t *testing.T) {
	e := startIAM(t, "epoll")
	ctx := context.Background()
	send := func(body string, service string, alter func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", e.url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if service != "" {
			sum := sha256.Sum256([]byte(body))
			if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey},
				req, hex.EncodeToString(sum[:]), service, testRegion, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if alter != nil {
			alter(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name, body, service string
		alter               func(*http.Request)
		status              int
		code                string
	}{
		{"unknown action", "Action=LaunchRocket&Version=2010-05-08", "iam", nil, 400, "<Code>InvalidAction</Code>"},
		{"no action", "Version=2010-05-08", "iam", nil, 400, "<Code>InvalidAction</Code>"},
		{"missing parameter", "Action=CreateUser&Version=2010-05-08", "iam", nil, 400, "<Code>ValidationError</Code>"},
		{"bad user name", "Action=CreateUser&UserName=a%2Fb&Version=2010-05-08", "iam", nil, 400, "<Code>ValidationError</Code>"},
		{"sts action at iam", "Action=GetSessionToken&Version=2011-06-15", "iam", nil, 400, "<Code>InvalidAction</Code>"},
		{"bad duration", "Action=GetSessionToken&DurationSeconds=10&Version=2011-06-15", "sts", nil, 400, "<Code>ValidationError</Code>"},
		{"form changed after signing", "Action=ListUsers&Version=2010-05-08", "iam", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader("Action=ListUsers&Version=2010-05-09"))
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"unsigned", "Action=CreateUser&UserName=x&Version=2010-05-08", "", nil, 403, "<Code>AccessDenied</Code>"},
		{"oversized form", "Action=ListUsers&Version=2010-05-08&Pad=" + strings.Repeat("a", 300<<10), "iam", nil, 400, "<Code>MaxMessageLengthExceeded</Code>"},
		{"not a form", "Action=%zz", "iam", nil, 400, "<Code>InvalidRequest</Code>"},
	}
	for _, c := range cases {
		status, body := send(c.body, c.service, c.alter)
		if status != c.status || !strings.Contains(body, c.code) {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
		}
	}
	// Nothing was created by any of them.
	users, err := e.iam(testAccessKey, testSecretKey, "").ListUsers(ctx, &iam.ListUsersInput{})
	mustOK(t, "ListUsers", err)
	if len(users.Users) != 0 {
		t.Fatalf("users after the hostile forms: %+v", users.Users)
	}
}
