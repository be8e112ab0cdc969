package erasure

import (
	"fmt"
	"testing"
)

// BenchmarkBitrotHash measures each bitrot candidate alone on block-sized inputs: the
// evidence behind DefaultBitrot. A memmove of the same bytes is the limit beside it.
func BenchmarkBitrotHash(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 256 << 10, 1 << 20} {
		data := randomBytes(b, size, 1)
		b.Run(fmt.Sprintf("memmove/%dKiB", size>>10), func(b *testing.B) {
			dst := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, data)
			}
		})
		for _, alg := range []BitrotAlgorithm{BitrotHighwayHash256, BitrotXXH3, BitrotCRC32C} {
			h, err := newBitrotHasher(alg)
			if err != nil {
				b.Fatal(err)
			}
			sum := make([]byte, alg.Size())
			b.Run(fmt.Sprintf("%v/%dKiB", alg, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					h.sum(sum, data)
				}
			})
		}
	}
}
