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
)

// TestPermissions checks the permission contract of a mount made by root: every user can
// use it (allow_other), mode bits and ownership are enforced (default_permissions), and
// root writes a read-only file as on ext4.
func TestPermissions(t *testing.T) {
	_, dir := setup(t, 1)
	// The test's temporary directory is private (0700): let other users reach the mount.
	must(t, "chmod", os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755))
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
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.script)
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			if c.fails && (err == nil || !strings.Contains(string(out), "ermission denied") && !strings.Contains(string(out), "not permitted")) {
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
