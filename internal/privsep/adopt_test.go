//go:build linux

package privsep

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestAdopt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	sys := filepath.Join(dir, ".sys")
	for _, d := range []string{"tmp", "trash/x"} {
		if err := os.MkdirAll(filepath.Join(sys, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"format.json", "tmp/staged"} {
		if err := os.WriteFile(filepath.Join(sys, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(sys, "someone-elses")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(sys, "link")); err != nil {
		t.Fatal(err)
	}
	// A directory another user owns is that user's tree: not walked.
	theirs := filepath.Join(sys, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(theirs, "inside"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	id := ident{user: "65534", group: "65534", uid: 65534, gid: 65534}
	if err := adopt(id, []string{sys, filepath.Join(dir, "missing")}); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) (uint32, uint32) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid, st.Gid
	}
	for _, p := range []string{sys, filepath.Join(sys, "tmp"), filepath.Join(sys, "trash/x"), filepath.Join(sys, "format.json"), filepath.Join(sys, "tmp/staged"), filepath.Join(sys, "link")} {
		if u, g := owner(p); u != 65534 || g != 65534 {
			t.Errorf("%s: owned by %d:%d, want 65534:65534", p, u, g)
		}
	}
	if u, _ := owner(other); u != 4242 {
		t.Errorf("another user's file changed owner to %d", u)
	}
	if u, _ := owner(filepath.Join(theirs, "inside")); u != 0 {
		t.Errorf("a file inside another user's directory changed owner to %d", u)
	}
	if u, _ := owner("/etc/passwd"); u != 0 {
		t.Errorf("the symlink was followed: /etc/passwd owned by %d", u)
	}
	if u, _ := owner(dir); u != 0 {
		t.Errorf("the parent of the adopted tree changed owner to %d", u)
	}
}
