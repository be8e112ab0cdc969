package checksum

import (
	"testing"
)

// FuzzParseHeaders fuzzes every checksum header parser: none may panic, and whatever
// ParseBase64 accepts must round-trip to the same text.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"DUoRhQ==", "jSnVw/bqjr4=", "CRC32", "FULL_OBJECT", "", "====", "x-amz-checksum-crc32"} {
		f.Add(uint8(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, alg uint8, in []byte) {
		a := Algorithm(alg % 8)
		if v, err := ParseBase64(a, in); err == nil {
			if got := string(v.AppendBase64(nil)); got != string(in) && len(got) != len(in) {
				t.Fatalf("ParseBase64(%v, %q) round-trips to %q", a, in, got)
			}
		}
		if got, err := ParseAlgorithm(in); err == nil && !equalFold(in, got.String()) {
			t.Fatalf("ParseAlgorithm(%q) = %v", in, got)
		}
		if got, ok := AlgorithmForHeader(in); ok && !equalFold(in, got.HeaderName()) {
			t.Fatalf("AlgorithmForHeader(%q) = %v", in, got)
		}
		if got, err := ParseType(in); err == nil && !equalFold(in, got.String()) {
			t.Fatalf("ParseType(%q) = %v", in, got)
		}
	})
}
