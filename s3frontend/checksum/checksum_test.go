package checksum

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"hash/crc64"
	"math/rand/v2"
	"strings"
	"testing"
)

// sumOf hashes data with a and returns the base64 wire form.
func sumOf(t testing.TB, a Algorithm, data []byte) string {
	t.Helper()
	h := a.New()
	h.Write(data)
	return Sum(a, h).Base64()
}

// The "hello world" vectors are the ones aws-sdk-go-v2 tests its own checksum middleware
// with (service/internal/checksum/algorithms_test.go); MD5 is RFC 1321's digest.
func TestKnownVectors(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		in   string
		want string
	}{
		{CRC32, "hello world", "DUoRhQ=="},
		{CRC32C, "hello world", "yZRlqg=="},
		{CRC64NVME, "hello world", "jSnVw/bqjr4="},
		{SHA1, "hello world", "Kq5sNclPz7QV2+lfQIuc6R7oRu0="},
		{SHA256, "hello world", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="},
		{MD5, "hello world", "XrY7u+Ae7tCTyyK7j1rNww=="},
		// CRC-64/NVME check value from the CRC catalogue: 0xae8b14860a799888.
		{CRC64NVME, "123456789", base64.StdEncoding.EncodeToString([]byte{0xae, 0x8b, 0x14, 0x86, 0x0a, 0x79, 0x98, 0x88})},
		{CRC32, "", "AAAAAA=="},
		{CRC64NVME, "", "AAAAAAAAAAA="},
	}
	for _, tc := range tests {
		t.Run(tc.alg.String()+"/"+tc.in, func(t *testing.T) {
			if got := sumOf(t, tc.alg, []byte(tc.in)); got != tc.want {
				t.Fatalf("%s(%q) = %s, want %s", tc.alg, tc.in, got, tc.want)
			}
		})
	}
}

// TestCRC64NVMEMatchesIndependentImplementation compares the SIMD implementation New uses
// (minio/crc64nvme) with the standard library's table-driven CRC over the same polynomial,
// over many lengths and split points.
func TestCRC64NVMEMatchesIndependentImplementation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096, 65536, 70000} {
		h := CRC64NVME.New()
		split := n / 3
		h.Write(buf[:split])
		h.Write(buf[split:n])
		ref := crc64.New(crc64.MakeTable(crc64NVMEPoly))
		ref.Write(buf[:n])
		want, _ := FromRaw(CRC64NVME, ref.Sum(nil))
		if got := Sum(CRC64NVME, h); !got.Equal(want) {
			t.Fatalf("len %d: got %s, want %s", n, got, want)
		}
	}
}

func TestAlgorithmNames(t *testing.T) {
	tests := []struct {
		in      string
		want    Algorithm
		wantErr bool
	}{
		{"CRC32", CRC32, false},
		{"crc32c", CRC32C, false},
		{"Crc64Nvme", CRC64NVME, false},
		{"SHA1", SHA1, false},
		{"sha256", SHA256, false},
		{"MD5", None, true},
		{"", None, true},
		{"SHA512", None, true},
		{"CRC32 ", None, true},
	}
	for _, tc := range tests {
		got, err := ParseAlgorithm([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("ParseAlgorithm(%q) error %v is not ErrUnknownAlgorithm", tc.in, err)
		}
	}
	headers := []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"x-amz-checksum-crc32", CRC32, true},
		{"X-Amz-Checksum-Crc32c", CRC32C, true},
		{"x-amz-checksum-crc64nvme", CRC64NVME, true},
		{"x-amz-checksum-sha1", SHA1, true},
		{"x-amz-checksum-sha256", SHA256, true},
		{"x-amz-checksum-type", None, false},
		{"x-amz-checksum-mode", None, false},
		{"x-amz-checksum-algorithm", None, false},
		{"content-md5", None, false},
	}
	for _, tc := range headers {
		got, ok := AlgorithmForHeader([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("AlgorithmForHeader(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.HeaderName() != strings.ToLower(tc.in) {
			t.Errorf("%v.HeaderName() = %q, want %q", got, got.HeaderName(), strings.ToLower(tc.in))
		}
	}
}

func TestParseBase64(t *testing.T) {
	tests := []struct {
		alg     Algorithm
		in      string
		wantErr bool
	}{
		{CRC32, "DUoRhQ==", false},
		{CRC32, "DUoRhQ=", true},  // short
		{CRC32, "DUoRhQ", true},   // unpadded: S3 uses padded base64
		{CRC32, "i9aeUgg=", true}, // five bytes
		{CRC32, "DUoR!Q==", true}, // not base64
		{CRC64NVME, "jSnVw/bqjr4=", false},
		{CRC64NVME, "DUoRhQ==", true}, // a CRC32 is too short for CRC64NVME
		{SHA256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=", false},
		{SHA256, "uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=", true}, // URL alphabet
		{MD5, "XrY7u+Ae7tCTyyK7j1rNww==", false},
		{None, "", true},
	}
	for _, tc := range tests {
		v, err := ParseBase64(tc.alg, []byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseBase64(%v, %q) error = %v, wantErr %v", tc.alg, tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && v.Base64() != tc.in {
			t.Errorf("ParseBase64(%v, %q) round-trips to %q", tc.alg, tc.in, v.Base64())
		}
	}
}

// TestCombineFullObject checks, for every CRC, that combining part CRCs equals the CRC of the
// concatenated parts, over random part layouts including empty parts.
func TestCombineFullObject(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		for trial := range 50 {
			nparts := 1 + rng.IntN(6)
			var whole []byte
			parts := make([]Part, nparts)
			for i := range parts {
				size := rng.IntN(3000)
				if trial%7 == 0 && i == 1 {
					size = 0
				}
				data := make([]byte, size)
				for j := range data {
					data[j] = byte(rng.Uint32())
				}
				whole = append(whole, data...)
				h := a.New()
				h.Write(data)
				parts[i] = Part{Checksum: Sum(a, h), Size: int64(size)}
			}
			m, err := Combine(FullObject, parts)
			if err != nil {
				t.Fatal(err)
			}
			if want := sumOf(t, a, whole); m.String() != want || m.Value.Base64() != want {
				t.Fatalf("%v trial %d: combined %s, whole-object %s", a, trial, m.String(), want)
			}
		}
	}
}

// TestCombineComposite checks the checksum of checksums against a direct computation and the
// "-N" suffix S3 writes.
func TestCombineComposite(t *testing.T) {
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<10), []byte("hello"), {}}
	var ps []Part
	var concat []byte
	for _, p := range parts {
		sum := sha256.Sum256(p)
		concat = append(concat, sum[:]...)
		v, _ := FromRaw(SHA256, sum[:])
		ps = append(ps, Part{Checksum: v, Size: int64(len(p))})
	}
	m, err := Combine(Composite, ps)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(concat)
	if got := m.String(); got != base64.StdEncoding.EncodeToString(want[:])+"-3" {
		t.Fatalf("composite = %s", got)
	}

	// CRC32 composite: CRC32 over the 4-byte big-endian part CRCs.
	var crcConcat []byte
	var crcParts []Part
	for _, p := range parts {
		h := CRC32.New()
		h.Write(p)
		v := Sum(CRC32, h)
		crcConcat = append(crcConcat, v.Raw()...)
		crcParts = append(crcParts, Part{Checksum: v, Size: int64(len(p))})
	}
	m, err = Combine(Composite, crcParts)
	if err != nil {
		t.Fatal(err)
	}
	var raw [4]byte
	c := crc32.ChecksumIEEE(crcConcat)
	raw[0], raw[1], raw[2], raw[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	if got, want := m.String(), base64.StdEncoding.EncodeToString(raw[:])+"-3"; got != want {
		t.Fatalf("CRC32 composite = %s, want %s", got, want)
	}
}

func TestCombineRejects(t *testing.T) {
	crc64v := Sum(CRC64NVME, CRC64NVME.New())
	sha := Sum(SHA256, SHA256.New())
	crc := Sum(CRC32, CRC32.New())
	tests := []struct {
		name  string
		typ   Type
		parts []Part
	}{
		{"no parts", FullObject, nil},
		{"composite crc64nvme", Composite, []Part{{Checksum: crc64v}}},
		{"full object sha256", FullObject, []Part{{Checksum: sha}}},
		{"mixed algorithms", Composite, []Part{{Checksum: crc}, {Checksum: sha}}},
		{"negative size", FullObject, []Part{{Checksum: crc}, {Checksum: crc, Size: -1}}},
		{"no type", TypeNone, []Part{{Checksum: crc}}},
	}
	for _, tc := range tests {
		if _, err := Combine(tc.typ, tc.parts); err == nil {
			t.Errorf("%s: Combine succeeded", tc.name)
		}
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]Type{"COMPOSITE": Composite, "full_object": FullObject} {
		if got, err := ParseType([]byte(in)); err != nil || got != want || !strings.EqualFold(got.String(), in) {
			t.Errorf("ParseType(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "PARTIAL", "COMPOSITE "} {
		if _, err := ParseType([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseType(%q) error = %v, want ErrMalformed", in, err)
		}
	}
	if CRC64NVME.DefaultType() != FullObject || SHA1.DefaultType() != Composite {
		t.Error("wrong default types")
	}
}
