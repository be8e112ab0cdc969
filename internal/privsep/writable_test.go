//go:build linux

package privsep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const nobody = 65534 // uid of "nobody" and gid of "nogroup" on Debian

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tests switch users")
	}
	if _, err := lookup("nobody", "nogroup"); err != nil {
		t.Skipf("no nobody/nogroup accounts: %v", err)
	}
}

// traversableTempDir returns a temporary directory that other users can traverse
// (t.TempDir's parent is private to root).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mkdirOwned makes a directory with the given mode and owner.
func mkdirOwned(t *testing.T, path string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckWritable(t *testing.T) {
	requireRoot(t)
	base := traversableTempDir(t)
	owned := mkdirOwned(t, filepath.Join(base, "owned"), 0o755, nobody, nobody)
	rootOnly := mkdirOwned(t, filepath.Join(base, "root-only"), 0o755, 0, 0)
	open := mkdirOwned(t, filepath.Join(base, "world-writable"), 0o777, 0, 0)
	groupW := mkdirOwned(t, filepath.Join(base, "group-writable"), 0o775, 0, nobody)
	withBadSub := mkdirOwned(t, filepath.Join(base, "bad-sub"), 0o755, nobody, nobody)
	badSub := mkdirOwned(t, filepath.Join(withBadSub, "bucket"), 0o755, 0, 0)
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		group   string
		dirs    []string
		wantErr []string // substrings; nil for success
	}{
		{"owned by the user", "", []string{owned}, nil},
		{"world-writable", "", []string{open}, nil},
		{"group-writable through the given group", "nogroup", []string{groupW}, nil},
		{"several good drives", "", []string{owned, open}, nil},
		{"root-only", "", []string{owned, rootOnly}, []string{rootOnly, "not writable by user nobody", "permission denied"}},
		{"sub-directory root-only", "", []string{withBadSub}, []string{withBadSub, "permission denied", badSub}},
		{"missing", "", []string{filepath.Join(base, "missing")}, []string{filepath.Join(base, "missing"), "no such file"}},
		{"not a directory", "", []string{file}, []string{file, "not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWritable("nobody", tt.group, tt.dirs)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckWritable succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
	// The probes ran on a thread of their own: this process is still root everywhere.
	threads, err := Threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range threads {
		if th.UIDs != [4]int{} || th.GIDs != [4]int{} {
			t.Fatalf("a thread kept the probe's ids: %+v", th)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(base, "*", ".flashstor-privsep-*"))
	if len(leftovers) > 0 {
		t.Fatalf("probe files left behind: %v", leftovers)
	}
}

func TestLookup(t *testing.T) {
	if _, err := lookup("nobody", "nogroup"); err != nil {
		t.Skipf("no nobody/nogroup accounts: %v", err)
	}
	tests := []struct {
		user, group      string
		wantUID, wantGID int
		wantErr          bool
	}{
		{"nobody", "nogroup", nobody, nobody, false},
		{"nobody", "", nobody, nobody, false}, // primary group
		{"65534", "65534", nobody, nobody, false},
		{"nobody", "0", nobody, 0, false},
		{"54321", "54321", 54321, 54321, false}, // numbers without accounts, as chown takes them
		{"54321", "", 0, 0, true},               // no account: the group cannot be found
		{"no-such-user-x", "", 0, 0, true},
		{"nobody", "no-such-group-x", 0, 0, true},
	}
	for _, tt := range tests {
		id, err := lookup(tt.user, tt.group)
		if (err != nil) != tt.wantErr {
			t.Errorf("lookup(%q, %q) error = %v, want error %v", tt.user, tt.group, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (id.uid != tt.wantUID || id.gid != tt.wantGID) {
			t.Errorf("lookup(%q, %q) = %d:%d, want %d:%d", tt.user, tt.group, id.uid, id.gid, tt.wantUID, tt.wantGID)
		}
	}
}

func TestDropWithoutUser(t *testing.T) {
	res, err := Drop(Config{})
	if err != nil || res.Dropped || res.UID != os.Getuid() {
		t.Fatalf("Drop(no user) = %+v, %v; want nothing done", res, err)
	}
	if _, err := Drop(Config{Group: "nogroup"}); err == nil {
		t.Fatal("Drop(group without user) succeeded")
	}
}
