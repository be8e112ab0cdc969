package erasure

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
)

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		k, m int
		bs   int64
		alg  BitrotAlgorithm
	}{
		{"no data shards", 0, 2, 4096, DefaultBitrot},
		{"negative parity", 4, -1, 4096, DefaultBitrot},
		{"too many shards", 12, 5, 4096, DefaultBitrot},
		{"zero block", 4, 2, 0, DefaultBitrot},
		{"negative block", 4, 2, -1, DefaultBitrot},
		{"huge block", 4, 2, MaxBlockSize + 1, DefaultBitrot},
		{"invalid bitrot", 4, 2, 4096, BitrotInvalid},
		{"unknown bitrot", 4, 2, 4096, BitrotAlgorithm(200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := New(tc.k, tc.m, tc.bs, tc.alg); !errors.Is(err, ErrInvalidArgument) || c != nil {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidArgument", c, err)
			}
		})
	}
	for _, g := range geometries {
		if _, err := New(g.k, g.m, DefaultBlockSize, DefaultBitrot); err != nil {
			t.Errorf("New(%d, %d): %v", g.k, g.m, err)
		}
	}
}

func TestGeometry(t *testing.T) {
	c := mustNew(t, 4, 2, 1000, BitrotXXH3) // 250-byte blocks, 16-byte checksums
	tests := []struct {
		size      int64
		stripes   int64
		fileSize  int64
		lastBlock int
	}{
		{0, 0, 0, 0},
		{1, 1, 16 + 1, 1},
		{4, 1, 16 + 1, 1},
		{5, 1, 16 + 2, 2},
		{999, 1, 16 + 250, 250},
		{1000, 1, 16 + 250, 250},
		{1001, 2, 2*16 + 250 + 1, 1},
		{3500, 4, 3*266 + 16 + 125, 125},
	}
	for _, tc := range tests {
		if got := c.Stripes(tc.size); got != tc.stripes {
			t.Errorf("Stripes(%d) = %d, want %d", tc.size, got, tc.stripes)
		}
		if got := c.ShardFileSize(tc.size); got != tc.fileSize {
			t.Errorf("ShardFileSize(%d) = %d, want %d", tc.size, got, tc.fileSize)
		}
		if tc.stripes > 0 {
			if got := c.BlockSize(tc.size, tc.stripes-1); got != tc.lastBlock {
				t.Errorf("BlockSize(%d, last) = %d, want %d", tc.size, got, tc.lastBlock)
			}
		}
		if got := c.BlockSize(tc.size, tc.stripes); got != 0 {
			t.Errorf("BlockSize(%d, %d) past the end = %d, want 0", tc.size, tc.stripes, got)
		}
	}
	if got := c.BlockOffset(3); got != 3*266 {
		t.Errorf("BlockOffset(3) = %d, want %d", got, 3*266)
	}
	if got := c.ShardFileSize(-1); got != -1 {
		t.Errorf("ShardFileSize(-1) = %d, want -1", got)
	}
	// With k = 1 the checksums make a shard file longer than the object: the largest sizes
	// overflow and must be refused, not wrapped around.
	one := mustNew(t, 1, 0, 4096, BitrotHighwayHash256)
	if got := one.ShardFileSize(math.MaxInt64); got != -1 {
		t.Errorf("1+0: ShardFileSize(MaxInt64) = %d, want -1", got)
	}
	if _, _, err := one.Decode(context.Background(), io.Discard, make([]io.ReaderAt, 1), 0, 1, math.MaxInt64); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("1+0: Decode of a MaxInt64-byte object: %v, want ErrInvalidArgument", err)
	}
}

func TestBitrotAlgorithm(t *testing.T) {
	tests := []struct {
		alg  BitrotAlgorithm
		name string
		size int
	}{
		{BitrotHighwayHash256, "highwayhash256", 32},
		{BitrotXXH3, "xxh3-128", 16},
		{BitrotCRC32C, "crc32c", 4},
	}
	for _, tc := range tests {
		if tc.alg.String() != tc.name || tc.alg.Size() != tc.size || !tc.alg.Available() {
			t.Errorf("%d: String %q Size %d Available %v; want %q %d true", uint8(tc.alg), tc.alg, tc.alg.Size(), tc.alg.Available(), tc.name, tc.size)
		}
		if got, err := ParseBitrotAlgorithm(tc.name); err != nil || got != tc.alg {
			t.Errorf("ParseBitrotAlgorithm(%q) = %v, %v", tc.name, got, err)
		}
	}
	// The numbers are on disk: they must never change.
	if BitrotHighwayHash256 != 1 || BitrotXXH3 != 2 || BitrotCRC32C != 3 || BitrotInvalid != 0 {
		t.Error("bitrot algorithm numbers changed: old objects would become unreadable")
	}
	for _, bad := range []BitrotAlgorithm{BitrotInvalid, 4, 255} {
		if bad.Available() || bad.Size() != 0 {
			t.Errorf("%v reported available", bad)
		}
		if _, err := ParseBitrotAlgorithm(bad.String()); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseBitrotAlgorithm(%q): %v", bad.String(), err)
		}
	}
	if len(BitrotKey) != 32 {
		t.Errorf("BitrotKey is %d bytes, want 32", len(BitrotKey))
	}
}
