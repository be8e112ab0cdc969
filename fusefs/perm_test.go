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

// TestPermissions checks the permission contract of a mount made by root: every user can
// use it (allow_other), mode bits and ownership are enforced (default_permissions), and
// root writes a read-only file as on ext4.
func TestPermissions(t *testing.T) {
	_, dir := setupShared(t)
	must(t, "write private", os.WriteFile(filepath.Join(dir, "private"), []byte("secret"), 0o600))
	must(t, "write public", os.WriteFile(filepath.Join(dir, "public"), []byte("hello"), 0o644))
	must(t, "mkdir shared", os.Mkdir(filepath.Join(dir, "shared"), 0o777))
	must(t, "chmod shared", os.Chmod(filepath.Join(dir, "shared"), 0o777)) // past the umask
	must(t, "write readonly", os.WriteFile(filepath.Join(dir, "readonly"), []byte("ro"), 0o444))

	// Root writes a read-only file, as on ext4.
	must(t, "root writes a 0444 file", os.WriteFile(filepath.Join(dir, "readonly"), []byte("root"), 0o444))

	const nobody = 65534
	cases := []struct {
		name   string
		script string
		fails  bool
	}{
		{"read a 0644 file", "cat " + filepath.Join(dir, "public"), false},
		{"read a 0600 file of root", "cat " + filepath.Join(dir, "private"), true},
		{"write a 0644 file of root", "echo x >> " + filepath.Join(dir, "public"), true},
		{"create in a 0755 directory of root", "touch " + filepath.Join(dir, "mine"), true},
		{"create in a 0777 directory", "touch " + filepath.Join(dir, "shared", "mine"), false},
		{"chmod a file of root", "chmod 777 " + filepath.Join(dir, "public"), true},
		{"chown a file", "chown 0 " + filepath.Join(dir, "shared", "mine"), true},
		{"write a read-only file", "echo x >> " + filepath.Join(dir, "readonly"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := asUserErr(nobody, nobody, "/bin/sh", "-c", c.script)
			if c.fails && (err == nil || !strings.Contains(out, "ermission denied") && !strings.Contains(out, "not permitted")) {
				t.Fatalf("as nobody: %v %s", err, out)
			}
			if !c.fails && err != nil {
				t.Fatalf("as nobody: %v %s", err, out)
			}
		})
	}
	if st := statOf(t, filepath.Join(dir, "shared", "mine")); st.Uid != nobody || st.Gid != nobody {
		t.Fatalf("a file created by nobody is owned by %d:%d", st.Uid, st.Gid)
	}
}

// setupShared is setup on one drive, with the mount reachable by every user: the test's
// temporary directory is private (0700) otherwise.
func setupShared(t *testing.T) (objstore.ObjectLayer, string) {
	t.Helper()
	l, dir := setup(t, 1)
	must(t, "chmod", os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755))
	return l, dir
}

// asUser runs a program as uid:gid, from outside the mount, and fails the test if it fails.
func asUser(t *testing.T, uid, gid uint32, name string, args ...string) {
	t.Helper()
	if out, err := asUserErr(uid, gid, name, args...); err != nil {
		t.Fatalf("%s %v as %d: %v %s", name, args, uid, err, out)
	}
}

// asUserErr runs a program as uid:gid (at most a minute), and returns its output.
func asUserErr(uid, gid uint32, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
