package fusefs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	l, dir := setup(t, 1)
	data := pattern(3<<20+17, 1)
	p := filepath.Join(dir, "a", "b.txt")
	must(t, "mkdir", os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, "write", os.WriteFile(p, data, 0o640))
	got, err := os.ReadFile(p)
	must(t, "read", err)
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	obj, info := getObject(t, l, "a/b.txt")
	if !bytes.Equal(obj, data) {
		t.Fatal("object differs")
	}
	t.Logf("meta %v", info.Metadata)
	ents, err := os.ReadDir(dir)
	must(t, "readdir", err)
	for _, e := range ents {
		t.Log(e.Name(), e.IsDir())
	}
}
