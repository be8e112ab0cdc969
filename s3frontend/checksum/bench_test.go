package checksum

import (
	"crypto/sha256"
	"testing"
)

// BenchmarkAlgorithms measures each checksum's throughput over 1 MiB buffers. The
// "memmove" case copies the same bytes and is the limit every hasher is compared with.
func BenchmarkAlgorithms(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.Run("memmove", func(b *testing.B) {
		dst := make([]byte, len(buf))
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			copy(dst, buf)
		}
	})
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256, MD5} {
		b.Run(a.String(), func(b *testing.B) {
			h := a.New()
			var out [sha256.Size]byte
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				h.Reset()
				h.Write(buf)
				h.Sum(out[:0])
			}
		})
	}
}

// BenchmarkCombineFullObject measures combining 10000 part CRCs (the S3 part limit).
func BenchmarkCombineFullObject(b *testing.B) {
	parts := make([]Part, 10000)
	for i := range parts {
		h := CRC64NVME.New()
		h.Write([]byte{byte(i)})
		parts[i] = Part{Checksum: Sum(CRC64NVME, h), Size: 8 << 20}
	}
	for b.Loop() {
		if _, err := Combine(FullObject, parts); err != nil {
			b.Fatal(err)
		}
	}
}
