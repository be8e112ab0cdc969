package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// TestHealCommand removes a drive's directory in a stopped deployment and runs "flashstor
// heal": it must refuse to bring back a missing directory; once an empty one is there, it
// must report every object it restored, and a second run must find nothing to do.
func TestHealCommand(t *testing.T) {
	dir := t.TempDir()
	drives := filepath.Join(dir, "d{1...4}")
	c := context.Background()
	dep, err := deploy.Open(c, deploy.Config{Drives: []string{drives}, Parity: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := dep.MakeBucket(c, "photos", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	content := map[string][]byte{}
	for i, size := range []int{3, 200 << 10, 3 << 20} {
		key := fmt.Sprintf("2026/img-%d.jpg", i)
		content[key] = bytes.Repeat([]byte{byte(i + 1)}, size)
		if _, err := dep.PutObject(c, "photos", key, bytes.NewReader(content[key]), int64(size), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dep.Close()
	if err := os.RemoveAll(filepath.Join(dir, "d3")); err != nil {
		t.Fatal(err)
	}

	// The directory is missing, as an unmounted disk's: heal must not create it on the
	// file system below, and must say so and fail.
	var out, errOut bytes.Buffer
	err = run(c, []string{"heal", drives}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "d3")+" is left out (read_failed)") ||
		!strings.Contains(out.String(), "is still left out") {
		t.Fatalf("heal with a drive directory missing: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "d3")); err == nil {
		t.Fatal("heal created the missing drive directory")
	}
	// A new, empty disk mounted there: it is formatted for its position and healed.
	if err := os.Mkdir(filepath.Join(dir, "d3"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(c, []string{"heal", drives}, &out, &errOut); err != nil {
		t.Fatalf("heal: %v\n%s", err, errOut.String())
	}
	report := out.String()
	if !strings.Contains(report, "formatted replacement drive") || strings.Count(report, "healed photos/") != 3 ||
		!strings.Contains(report, "heal done: 3 objects healed") {
		t.Fatalf("heal report:\n%s", report)
	}
	out.Reset()
	if err := run(c, []string{"heal", drives}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "heal done: 0 objects healed") {
		t.Fatalf("second heal:\n%s", out.String())
	}
	// The healed drive alone with one other holds everything (2+2: any 2 drives read).
	for _, keep := range []string{"d1", "d2", "d4"} {
		if keep != "d1" {
			os.RemoveAll(filepath.Join(dir, keep))
		}
	}
	dep, err = deploy.Open(c, deploy.Config{Drives: []string{drives}, Parity: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	for key, want := range content {
		h, err := dep.OpenObject(c, "photos", key)
		if err != nil {
			t.Fatalf("%s after losing the two unhealed drives: %v", key, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
		h.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v", key, err)
		}
	}
}
