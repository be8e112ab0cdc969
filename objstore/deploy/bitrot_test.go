package deploy_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// TestOnBitrotReachesSets damages the shard file of one drive and checks that the deep heal
// that finds it reports it through the deployment's OnBitrot.
func TestOnBitrotReachesSets(t *testing.T) {
	var mu sync.Mutex
	var calls []int
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, "d{1...4}")},
		Parity: 2,
		OnBitrot: func(shards int) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, shards)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	c := context.Background()
	if err := d.MakeBucket(c, "rot", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	content := randomBytes(1<<20, 7) // above the inline limit: one shard file per drive
	if _, err := d.PutObject(c, "rot", "obj", bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	shards, err := filepath.Glob(filepath.Join(dir, "d1", "rot", "*", "*", "part.1"))
	if err != nil || len(shards) != 1 {
		t.Fatalf("shard files of the object on d1: %v (%v), want one", shards, err)
	}
	b, err := os.ReadFile(shards[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(shards[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, s := range d.Sets() {
		if err := s.HealAll(c, true, func(erasureset.HealResult) {}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if !slices.Equal(got, []int{1}) {
		t.Fatalf("OnBitrot calls after a deep heal found one corrupt shard file: %v, want [1]", got)
	}
	h, err := d.OpenObject(c, "rot", "obj")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	read, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	if err != nil || !bytes.Equal(read, content) {
		t.Fatalf("read back %d bytes (%v) after the heal, want the %d written", len(read), err, len(content))
	}
}
