package fusefs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// The tools tests run the programs users run against the mount. A missing tool skips its
// test, unless FLASHSTOR_REQUIRE_TOOLS is set (CI sets it): then it fails.

// requireTool returns the path of a tool.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FLASHSTOR_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed and FLASHSTOR_REQUIRE_TOOLS is set (apt-get install -y rsync git restic tar)", name)
		}
		t.Skipf("%s is not installed (apt-get install -y rsync git restic tar)", name)
	}
	return p
}

// run runs a tool to completion (at most 5 minutes; killed when the test ends) from a
// directory outside the mount, and returns its output. A child process that changed into
// the mount could deadlock the fork (go-fuse's documentation), so tools get absolute paths.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, requireTool(t, name), args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sourceTree returns a local copy of part of the Go source tree (files, directories,
// modes and times), to feed the tools.
func sourceTree(t *testing.T, sub string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "src")
	run(t, nil, "cp", "-a", filepath.Join(goroot(t), "src", sub), dst)
	must(t, "symlink", os.Symlink("doc.go", filepath.Join(dst, "link-to-doc")))
	return dst
}

func goroot(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// sameTree fails unless diff -r finds a and b equal and their files have the same modes
// and modification times.
func sameTree(t *testing.T, a, b string, times bool) {
	t.Helper()
	run(t, nil, "diff", "-r", "--no-dereference", a, b)
	err := filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		var sa, sb syscall.Stat_t
		must(t, "lstat", syscall.Lstat(p, &sa))
		must(t, "lstat", syscall.Lstat(filepath.Join(b, rel), &sb))
		if sa.Mode != sb.Mode {
			t.Fatalf("%s: mode %o, want %o", rel, sb.Mode, sa.Mode)
		}
		if times && fi.Mode().IsRegular() && sa.Mtim.Sec != sb.Mtim.Sec {
			t.Fatalf("%s: mtime %d, want %d", rel, sb.Mtim.Sec, sa.Mtim.Sec)
		}
		return nil
	})
	must(t, "walk", err)
}

// tarThrough archives src with tar and extracts it into dst, a new directory in the mount,
// then archives dst and extracts that into a local directory: check compares src with dst,
// then with the local copy.
func tarThrough(t *testing.T, src, dst string, check func(t *testing.T, src, dst string)) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "a.tar")
	run(t, nil, "tar", "-C", src, "-cf", archive, ".")
	must(t, "mkdir", os.Mkdir(dst, 0o755))
	run(t, nil, "tar", "-C", dst, "-xpf", archive)
	check(t, src, dst)

	back := filepath.Join(t.TempDir(), "b.tar")
	run(t, nil, "tar", "-C", dst, "-cf", back, ".")
	out := t.TempDir()
	run(t, nil, "tar", "-C", out, "-xpf", back)
	check(t, src, out)
}

func TestToolsCpMvRm(t *testing.T) {
	l, dir := setup(t, 4)
	src := sourceTree(t, "encoding")
	dst := filepath.Join(dir, "cp")
	run(t, nil, "cp", "-a", src, dst)
	sameTree(t, src, dst, true)
	checkS3Prefix(t, l, "cp/", src)

	// mv within the bucket is a rename; across buckets it copies.
	run(t, nil, "mv", dst, filepath.Join(dir, "moved"))
	sameTree(t, src, filepath.Join(dir, "moved"), true)
	checkS3Prefix(t, l, "moved/", src)
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("mv source still there: %v", err)
	}
	must(t, "MakeBucket", l.MakeBucket(context.Background(), "other-bucket", objstore.MakeBucketOptions{}))
	other := filepath.Join(filepath.Dir(dir), "other-bucket", "moved")
	run(t, nil, "mv", filepath.Join(dir, "moved", "json"), other)
	sameTree(t, filepath.Join(src, "json"), other, true)

	run(t, nil, "rm", "-r", filepath.Join(dir, "moved"))
	res, err := l.ListObjects(context.Background(), testBucket, objstore.ListOptions{Prefix: "moved/"})
	must(t, "ListObjects", err)
	if len(res.Objects) != 0 {
		t.Fatalf("rm -r left %d objects", len(res.Objects))
	}
	if _, err := os.Stat(filepath.Join(dir, "moved")); !os.IsNotExist(err) {
		t.Fatalf("rm -r left the directory: %v", err)
	}
}

func TestToolsTar(t *testing.T) {
	l, dir := setup(t, 4)
	src := sourceTree(t, "archive")
	archive := filepath.Join(t.TempDir(), "a.tar")
	run(t, nil, "tar", "-C", filepath.Dir(src), "-cf", archive, "src")
	must(t, "mkdir", os.Mkdir(filepath.Join(dir, "x"), 0o755))
	run(t, nil, "tar", "-C", filepath.Join(dir, "x"), "-xpf", archive)
	sameTree(t, src, filepath.Join(dir, "x", "src"), true)
	checkS3Prefix(t, l, "x/src/", src)

	// tar c from the mount, x to a local directory.
	back := filepath.Join(t.TempDir(), "a2.tar")
	run(t, nil, "tar", "-C", filepath.Join(dir, "x"), "-cf", back, "src")
	out := t.TempDir()
	run(t, nil, "tar", "-C", out, "-xpf", back)
	sameTree(t, src, filepath.Join(out, "src"), true)
}

func TestToolsRsync(t *testing.T) {
	l, dir := setup(t, 4)
	src := sourceTree(t, "go/types")
	dst := filepath.Join(dir, "sync")
	run(t, nil, "rsync", "-a", src+"/", dst+"/")
	sameTree(t, src, dst, true)
	checkS3Prefix(t, l, "sync/", src)

	// Change, add and remove files, then sync again with --delete: only the changes move.
	must(t, "append", appendFile(filepath.Join(src, "api.go"), "\n// changed\n"))
	must(t, "new", os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o600))
	must(t, "remove", os.Remove(filepath.Join(src, "alias.go")))
	must(t, "remove link", os.Remove(filepath.Join(src, "link-to-doc")))
	out := run(t, nil, "rsync", "-a", "--delete", "--itemize-changes", src+"/", dst+"/")
	sameTree(t, src, dst, true)
	checkS3Prefix(t, l, "sync/", src)
	if n := strings.Count(out, "\n"); n > 6 {
		t.Fatalf("a second rsync moved %d entries, want the 4 changes:\n%s", n, out)
	}
}

func appendFile(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func TestToolsGit(t *testing.T) {
	l, dir := setup(t, 4)
	env := []string{"HOME=" + t.TempDir(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1"}
	repo := filepath.Join(dir, "repo")
	run(t, env, "git", "init", "-q", "-b", "main", repo)
	run(t, env, "cp", "-a", filepath.Join(goroot(t), "src", "sort"), filepath.Join(repo, "sort"))
	run(t, env, "git", "-C", repo, "add", ".")
	run(t, env, "git", "-C", repo, "commit", "-q", "-m", "first")
	must(t, "edit", appendFile(filepath.Join(repo, "sort", "sort.go"), "\n// edited\n"))
	run(t, env, "git", "-C", repo, "commit", "-q", "-am", "second")
	run(t, env, "git", "-C", repo, "fsck", "--strict")
	if st := run(t, env, "git", "-C", repo, "status", "--porcelain"); st != "" {
		t.Fatalf("git status after commit: %q", st)
	}

	// Clone out of the mount, and into it.
	out := filepath.Join(t.TempDir(), "clone")
	run(t, env, "git", "clone", "-q", repo, out)
	run(t, env, "diff", "-r", "--exclude=.git", repo, out)
	in := filepath.Join(dir, "clone")
	run(t, env, "git", "clone", "-q", out, in)
	run(t, env, "git", "-C", in, "fsck", "--strict")
	if log := run(t, env, "git", "-C", in, "log", "--oneline"); strings.Count(log, "\n") != 2 {
		t.Fatalf("git log of the clone: %q", log)
	}
	// From the S3 side: the repository's HEAD and index are objects.
	head, _ := getObject(t, l, "repo/.git/HEAD")
	if string(head) != "ref: refs/heads/main\n" {
		t.Fatalf("HEAD through the layer: %q", head)
	}
	checkS3Prefix(t, l, "clone/", in)
}

func TestToolsRestic(t *testing.T) {
	l, dir := setup(t, 4)
	src := sourceTree(t, "encoding")
	env := []string{"RESTIC_PASSWORD=flashstor-test", "RESTIC_CACHE_DIR=" + t.TempDir(), "HOME=" + t.TempDir()}
	repo := filepath.Join(dir, "restic-repo")
	run(t, env, "restic", "-r", repo, "init")
	run(t, env, "restic", "-r", repo, "backup", "-q", src)
	must(t, "append", appendFile(filepath.Join(src, "json", "decode.go"), "\n// changed\n"))
	run(t, env, "restic", "-r", repo, "backup", "-q", src)
	run(t, env, "restic", "-r", repo, "check", "--read-data")
	out := filepath.Join(t.TempDir(), "restore")
	run(t, env, "restic", "-r", repo, "restore", "latest", "--target", out)
	sameTree(t, src, filepath.Join(out, src), true)
	// From the S3 side: the repository's config and data are objects, byte for byte.
	checkS3Prefix(t, l, "restic-repo/", repo)
}
