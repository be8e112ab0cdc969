package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The command-line clients this test drives. CI installs their Debian packages (awscli,
// s3cmd, rclone) and sets FLASHSTOR_REQUIRE_TOOLS, which turns a missing tool into a
// failure; elsewhere a missing tool skips its subtest.
const requireToolsEnv = "FLASHSTOR_REQUIRE_TOOLS"

// cliTool is one command-line client: how to configure it for a server and how to run
// each step of the common scenario.
type cliTool struct {
	name string
	// setup writes the tool's configuration into dir and returns the environment and
	// leading arguments of every invocation.
	setup func(t *testing.T, e *env, dir string) (env []string, args []string)
	mb    func(bucket string) []string
	put   func(file, bucket, key string) []string
	get   func(bucket, key, file string) []string
	ls    func(bucket string) []string
	sync  func(dir, bucket, prefix string) []string
	rm    func(bucket, key string) []string
	// presign returns the arguments that print a presigned GET URL, nil when the tool
	// cannot presign with SigV4.
	presign func(bucket, key string) []string
}

var cliTools = []cliTool{
	{
		name: "aws",
		setup: func(t *testing.T, e *env, dir string) ([]string, []string) {
			cfg := filepath.Join(dir, "config")
			writeFile(t, cfg, "[default]\nregion = "+testRegion+"\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n")
			return []string{
				"AWS_ACCESS_KEY_ID=" + testAccessKey, "AWS_SECRET_ACCESS_KEY=" + testSecretKey,
				"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
				"AWS_DEFAULT_REGION=" + testRegion, "AWS_PAGER=",
			}, []string{"--endpoint-url", e.url}
		},
		mb: func(b string) []string { return []string{"s3", "mb", "s3://" + b} },
		put: func(f, b, k string) []string {
			return []string{"s3", "cp", "--only-show-errors", f, "s3://" + b + "/" + k}
		},
		get: func(b, k, f string) []string {
			return []string{"s3", "cp", "--only-show-errors", "s3://" + b + "/" + k, f}
		},
		ls: func(b string) []string { return []string{"s3", "ls", "--recursive", "s3://" + b + "/"} },
		sync: func(d, b, p string) []string {
			return []string{"s3", "sync", "--only-show-errors", d, "s3://" + b + "/" + p}
		},
		rm:      func(b, k string) []string { return []string{"s3", "rm", "--only-show-errors", "s3://" + b + "/" + k} },
		presign: func(b, k string) []string { return []string{"s3", "presign", "s3://" + b + "/" + k} },
	},
	{
		name: "s3cmd",
		setup: func(t *testing.T, e *env, dir string) ([]string, []string) {
			cfg := filepath.Join(dir, "s3cfg")
			writeFile(t, cfg, fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"+
				"use_https = False\nsignature_v2 = False\nbucket_location = %s\nmultipart_chunk_size_mb = 5\n",
				testAccessKey, testSecretKey, e.addr, e.addr, testRegion))
			return []string{"HOME=" + dir}, []string{"-c", cfg, "--no-progress"}
		},
		mb:   func(b string) []string { return []string{"mb", "s3://" + b} },
		put:  func(f, b, k string) []string { return []string{"put", f, "s3://" + b + "/" + k} },
		get:  func(b, k, f string) []string { return []string{"get", "--force", "s3://" + b + "/" + k, f} },
		ls:   func(b string) []string { return []string{"ls", "--recursive", "s3://" + b + "/"} },
		sync: func(d, b, p string) []string { return []string{"sync", d + "/", "s3://" + b + "/" + p + "/"} },
		rm:   func(b, k string) []string { return []string{"del", "s3://" + b + "/" + k} },
		// s3cmd signurl makes SigV2 URLs, which a SigV4-only server refuses.
	},
	{
		name: "rclone",
		setup: func(t *testing.T, e *env, dir string) ([]string, []string) {
			return []string{
				"RCLONE_CONFIG=" + filepath.Join(dir, "rclone.conf"),
				"RCLONE_CONFIG_FS_TYPE=s3", "RCLONE_CONFIG_FS_PROVIDER=Other",
				"RCLONE_CONFIG_FS_ACCESS_KEY_ID=" + testAccessKey, "RCLONE_CONFIG_FS_SECRET_ACCESS_KEY=" + testSecretKey,
				"RCLONE_CONFIG_FS_ENDPOINT=" + e.url, "RCLONE_CONFIG_FS_REGION=" + testRegion,
				"RCLONE_CONFIG_FS_FORCE_PATH_STYLE=true",
			}, []string{"--s3-upload-cutoff", "10M", "--s3-chunk-size", "5M", "--low-level-retries", "1", "--retries", "1"}
		},
		mb:      func(b string) []string { return []string{"mkdir", "fs:" + b} },
		put:     func(f, b, k string) []string { return []string{"copyto", f, "fs:" + b + "/" + k} },
		get:     func(b, k, f string) []string { return []string{"copyto", "fs:" + b + "/" + k, f} },
		ls:      func(b string) []string { return []string{"lsf", "-R", "fs:" + b} },
		sync:    func(d, b, p string) []string { return []string{"sync", d, "fs:" + b + "/" + p} },
		rm:      func(b, k string) []string { return []string{"deletefile", "fs:" + b + "/" + k} },
		presign: func(b, k string) []string { return []string{"link", "fs:" + b + "/" + k} },
	},
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCLIClients runs the aws CLI, s3cmd and rclone against the server: make a bucket,
// copy a small and a 100 MiB (multipart) file up and down, list, sync a directory, remove,
// and presign a GET.
func TestCLIClients(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bigSize := int64(100 << 20)
	if raceEnabled {
		bigSize = 24 << 20
	}
	for _, tool := range cliTools {
		t.Run(tool.name, func(t *testing.T) {
			bin, err := exec.LookPath(tool.name)
			if err != nil {
				if os.Getenv(requireToolsEnv) != "" {
					t.Fatalf("%s is not installed and %s is set", tool.name, requireToolsEnv)
				}
				t.Skipf("%s is not installed", tool.name)
			}
			for _, tr := range transports {
				t.Run(tr, func(t *testing.T) { runCLIScenario(t, start(t, tr), tool, bin, bigSize) })
			}
		})
	}
}

func runCLIScenario(t *testing.T, e *env, tool cliTool, bin string, bigSize int64) {
	dir := t.TempDir()
	env, lead := tool.setup(t, e, dir)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := runTool(bin, dir, env, append(append([]string{}, lead...), args...))
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", tool.name, strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	bucket := "cli-" + tool.name
	small := filepath.Join(dir, "small.txt")
	writeFile(t, small, "small file for "+tool.name+"\n")
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, &patternReader{n: bigSize}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tree := filepath.Join(dir, "tree")
	for _, p := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
		writeFile(t, filepath.Join(tree, p), "tree file "+p)
	}

	run(tool.mb(bucket)...)
	run(tool.put(small, bucket, "small.txt")...)
	run(tool.put(big, bucket, "dir/big.bin")...)
	sdk := e.sdk()
	head, err := sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/big.bin")})
	mustOK(t, "HeadObject of the big upload", err)
	if aws.ToInt64(head.ContentLength) != bigSize || !strings.Contains(aws.ToString(head.ETag), "-") {
		t.Errorf("big upload: %d bytes, ETag %s (want a multipart ETag)", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag))
	}

	gotSmall, gotBig := filepath.Join(dir, "small.back"), filepath.Join(dir, "big.back")
	run(tool.get(bucket, "small.txt", gotSmall)...)
	run(tool.get(bucket, "dir/big.bin", gotBig)...)
	if b, _ := os.ReadFile(gotSmall); string(b) != "small file for "+tool.name+"\n" {
		t.Errorf("small file came back as %q", b)
	}
	bf, err := os.Open(gotBig)
	if err != nil {
		t.Fatal(err)
	}
	check := &patternChecker{}
	n, _ := io.Copy(check, bf)
	bf.Close()
	if n != bigSize || check.bad {
		t.Errorf("big file came back with %d bytes, content ok %v", n, !check.bad)
	}

	run(tool.sync(tree, bucket, "synced")...)
	listing := run(tool.ls(bucket)...)
	for _, want := range []string{"small.txt", "dir/big.bin", "synced/a.txt", "synced/sub/b.txt", "synced/sub/deeper/c.txt"} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %s:\n%s", want, listing)
		}
	}

	if tool.presign != nil {
		url := strings.TrimSpace(run(tool.presign(bucket, "small.txt")...))
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "small file for "+tool.name+"\n" {
			t.Errorf("presigned GET: %d %q", resp.StatusCode, body)
		}
	}

	run(tool.rm(bucket, "small.txt")...)
	_, err = sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("small.txt")})
	wantCode(t, "HeadObject after rm", err, "NotFound")
}

// runTool runs bin with args in dir, with the clean environment plus env, for at most 3
// minutes (it is killed then), and returns what it wrote.
func runTool(bin, dir string, env, args []string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// cleanEnv returns the environment without the variables that configure the tools (a CA
// bundle, a profile, an rclone remote from the machine), so that each runs on exactly the
// configuration its setup wrote.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "RCLONE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
