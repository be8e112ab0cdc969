package s3frontend_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIIAM drives the IAM, STS and bucket policy APIs with the aws CLI (botocore), as
// a user of --endpoint-url would: create a user, a key and an inline policy; the user
// reads what the policy allows and is refused the rest; temporary credentials from
// get-session-token work; a bucket policy is put and judged public.
func TestCLIIAM(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv(requireToolsEnv) != "" {
			t.Fatalf("aws is not installed and %s is set", requireToolsEnv)
		}
		t.Skip("aws is not installed")
	}
	e := startIAM(t, "epoll")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "[default]\nregion = "+testRegion+"\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n")
	base := []string{"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"), "AWS_DEFAULT_REGION=" + testRegion, "AWS_PAGER="}
	as := func(key, secret, token string) []string {
		env := append([]string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret}, base...)
		if token != "" {
			env = append(env, "AWS_SESSION_TOKEN="+token)
		}
		return env
	}
	root := as(testAccessKey, testSecretKey, "")
	aws := func(env []string, args ...string) (string, error) {
		t.Helper()
		out, errOut, err := runTool(bin, dir, env, append([]string{"--endpoint-url", e.url, "--output", "json"}, args...))
		if err != nil {
			return errOut, err
		}
		return out, nil
	}
	must := func(env []string, args ...string) string {
		t.Helper()
		out, err := aws(env, args...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		return out
	}
	must(root, "iam", "create-user", "--user-name", "cli-user")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal([]byte(must(root, "iam", "create-access-key", "--user-name", "cli-user")), &key); err != nil || key.AccessKey.SecretAccessKey == "" {
		t.Fatalf("create-access-key: %v %+v", err, key)
	}
	pol := filepath.Join(dir, "read.json")
	writeFile(t, pol, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::cli/*"}]}`)
	must(root, "iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "read", "--policy-document", "file://"+pol)
	if out := must(root, "iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "read"); !strings.Contains(out, `"s3:GetObject"`) {
		t.Fatalf("get-user-policy:\n%s", out)
	}
	if out, err := aws(root, "iam", "create-user", "--user-name", "cli-user"); err == nil || !strings.Contains(out, "EntityAlreadyExists") {
		t.Fatalf("create-user twice: %v\n%s", err, out)
	}
	must(root, "s3api", "create-bucket", "--bucket", "cli")
	file := filepath.Join(dir, "f.txt")
	writeFile(t, file, "from the cli")
	must(root, "s3", "cp", "--only-show-errors", file, "s3://cli/f.txt")

	user := as(key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey, "")
	must(user, "s3", "cp", "--only-show-errors", "s3://cli/f.txt", filepath.Join(dir, "got.txt"))
	if out, err := aws(user, "s3", "cp", "--only-show-errors", file, "s3://cli/g.txt"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("the user's write: %v\n%s", err, out)
	}
	var tok struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal([]byte(must(user, "sts", "get-session-token", "--duration-seconds", "900")), &tok); err != nil || tok.Credentials.SessionToken == "" {
		t.Fatalf("get-session-token: %v %+v", err, tok)
	}
	sess := as(tok.Credentials.AccessKeyId, tok.Credentials.SecretAccessKey, tok.Credentials.SessionToken)
	must(sess, "s3", "cp", "--only-show-errors", "s3://cli/f.txt", filepath.Join(dir, "got2.txt"))
	if out := must(sess, "sts", "get-caller-identity"); !strings.Contains(out, ":user/cli-user") {
		t.Fatalf("get-caller-identity:\n%s", out)
	}

	bp := filepath.Join(dir, "bucket.json")
	writeFile(t, bp, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cli/*"}]}`)
	must(root, "s3api", "put-bucket-policy", "--bucket", "cli", "--policy", "file://"+bp)
	if out := must(root, "s3api", "get-bucket-policy-status", "--bucket", "cli"); !strings.Contains(out, `"IsPublic": true`) {
		t.Fatalf("get-bucket-policy-status:\n%s", out)
	}
	writeFile(t, bp, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}`)
	if out, err := aws(root, "s3api", "put-bucket-policy", "--bucket", "cli", "--policy", "file://"+bp); err == nil || !strings.Contains(out, "MalformedPolicy") {
		t.Fatalf("put-bucket-policy outside the bucket: %v\n%s", err, out)
	}
	if out := must(root, "--output", "table", "iam", "list-users"); !strings.Contains(out, "cli-user") {
		t.Fatalf("list-users:\n%s", out)
	}
}
