package s3frontend_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI returns a runner of the aws CLI configured for e (skipping the test where the CLI
// is not installed, unless the tools are required): run fails the test on a non-zero exit
// and returns stdout; try returns stdout and stderr, and whether the command succeeded.
func awsCLI(t *testing.T, e *env) (run func(args ...string) string, try func(args ...string) (string, string, bool)) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv(requireToolsEnv) != "" {
			t.Fatalf("aws is not installed and %s is set", requireToolsEnv)
		}
		t.Skip("aws is not installed")
	}
	dir := t.TempDir()
	env, lead := cliTools[0].setup(t, e, dir)
	try = func(args ...string) (string, string, bool) {
		t.Helper()
		out, errOut, err := runTool(bin, dir, env, append(append([]string{}, lead...), args...))
		return out, errOut, err == nil
	}
	run = func(args ...string) string {
		t.Helper()
		out, errOut, ok := try(args...)
		if !ok {
			t.Fatalf("aws %s failed:\n%s%s", strings.Join(args, " "), out, errOut)
		}
		return out
	}
	return run, try
}

// TestCLIEmptyBucketByVersions empties a versioned bucket as test-suite teardowns and
// backup tools do, with the aws CLI: list-object-versions, then delete-objects of every
// version and delete marker listed, then delete-bucket; get-bucket-versioning and
// put-bucket-versioning on the way. Until then the bucket is not empty.
func TestCLIEmptyBucketByVersions(t *testing.T) {
	e := start(t, "epoll")
	run, try := awsCLI(t, e)
	const bucket = "cli-versions"
	run("s3api", "create-bucket", "--bucket", bucket)
	seed(t, e, bucket, []string{"a", "b/c"}) // null versions, from before versioning
	if out := run("s3api", "get-bucket-versioning", "--bucket", bucket); strings.TrimSpace(out) != "" {
		t.Fatalf("get-bucket-versioning of an unversioned bucket: %q", out)
	}
	run("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
	if out := run("s3api", "get-bucket-versioning", "--bucket", bucket); !strings.Contains(out, `"Enabled"`) {
		t.Fatalf("get-bucket-versioning after Enabled: %q", out)
	}
	seed(t, e, bucket, []string{"a", "b/c", "b/d", "e f"})
	run("s3api", "delete-object", "--bucket", bucket, "--key", "e f")
	if _, errOut, ok := try("s3api", "delete-bucket", "--bucket", bucket); ok || !strings.Contains(errOut, "BucketNotEmpty") {
		t.Fatalf("delete-bucket of a bucket holding versions: ok %v, %s", ok, errOut)
	}

	type entry struct {
		Key, VersionId string
		IsLatest       bool
	}
	var listed struct{ Versions, DeleteMarkers []entry }
	out := run("s3api", "list-object-versions", "--bucket", bucket, "--output", "json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("list-object-versions: %v\n%s", err, out)
	}
	// a and b/c: a null version and a newer one; b/d and "e f": one version; "e f" under a
	// delete marker.
	if len(listed.Versions) != 6 || len(listed.DeleteMarkers) != 1 || listed.DeleteMarkers[0].Key != "e f" || !listed.DeleteMarkers[0].IsLatest {
		t.Fatalf("list-object-versions: %s", out)
	}
	type id struct{ Key, VersionId string }
	var del struct {
		Objects []id
		Quiet   bool
	}
	nulls := 0
	for _, v := range append(listed.Versions, listed.DeleteMarkers...) {
		if v.VersionId == "null" {
			nulls++
			if v.IsLatest {
				t.Fatalf("the null version is the latest: %+v", v)
			}
		}
		del.Objects = append(del.Objects, id{v.Key, v.VersionId})
	}
	if nulls != 2 {
		t.Fatalf("%d null versions listed: %s", nulls, out)
	}
	doc, _ := json.Marshal(del)
	file := filepath.Join(t.TempDir(), "delete.json")
	writeFile(t, file, string(doc))
	out = run("s3api", "delete-objects", "--bucket", bucket, "--delete", "file://"+file, "--output", "json")
	if strings.Contains(out, "Errors") || strings.Count(out, `"VersionId"`) != 7 || !strings.Contains(out, `"DeleteMarker": true`) {
		t.Fatalf("delete-objects: %s", out)
	}
	run("s3api", "delete-bucket", "--bucket", bucket)
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
