package hardening

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTools skips the test when a tool is missing, unless FLASHSTOR_REQUIRE_TOOLS is
// set (CI sets it where the tools are installed), in which case it fails.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("FLASHSTOR_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s not found (binutils provides readelf; gcc links externally)", tool)
			}
			t.Skipf("%s not found: install binutils and gcc, or set FLASHSTOR_REQUIRE_TOOLS to fail instead", tool)
		}
	}
}

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestHardenedBuild builds the binary with scripts/build.sh and verifies it.
func TestHardenedBuild(t *testing.T) {
	requireTools(t, "readelf", "bash", "go")
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "flashstor")
	if out, err := run(t, root, []string{"VERSION=hardening-test-1"}, "bash", "scripts/build.sh", "-o", bin); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	if out, err := run(t, root, nil, "bash", "scripts/check-hardening.sh", bin); err != nil {
		t.Fatalf("check-hardening.sh on the hardened build: %v\n%s", err, out)
	}
	out, err := run(t, root, nil, bin, "version")
	if err != nil || strings.TrimSpace(out) != "flashstor hardening-test-1" {
		t.Fatalf("%s version = %q, %v; want the stamped version", bin, out, err)
	}
}

// TestCheckerRejectsUnhardened builds a small program the ordinary ways and checks that
// check-hardening.sh names what each lacks.
func TestCheckerRejectsUnhardened(t *testing.T) {
	requireTools(t, "readelf", "bash", "go")
	root := repoRoot(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantMiss []string // phrases of the checker's complaints
	}{
		{"static executable", []string{"-buildmode=exe"}, []string{"not position-independent", "does not bind immediately"}},
		{"internally linked PIE", []string{"-buildmode=pie"}, []string{"does not bind immediately"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "hello")
			args := append([]string{"build", "-o", bin}, tt.args...)
			if out, err := run(t, src, []string{"CGO_ENABLED=0"}, "go", append(args, ".")...); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := run(t, root, nil, "bash", "scripts/check-hardening.sh", bin)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("check-hardening.sh = %v, want exit status 1\n%s", err, out)
			}
			for _, want := range tt.wantMiss {
				if !strings.Contains(out, want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
		})
	}
	if out, err := run(t, root, nil, "bash", "scripts/check-hardening.sh", filepath.Join(src, "missing")); err == nil {
		t.Fatalf("check-hardening.sh on a missing file succeeded:\n%s", out)
	}
}
