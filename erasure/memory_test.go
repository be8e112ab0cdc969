package erasure

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// memoryReader is a MemoryReaderAt over a shard file that counts its reads.
type memoryReader struct {
	r     *bytes.Reader
	reads int
}

func (m *memoryReader) ReadsMemory() {}

func (m *memoryReader) ReadAt(p []byte, off int64) (int, error) {
	m.reads++
	return m.r.ReadAt(p, off)
}

// TestDecodeMemoryReaders decodes through shards of which some are in memory (read on the
// decoding goroutine), with one of them corrupt, and checks the data and the shard errors.
func TestDecodeMemoryReaders(t *testing.T) {
	const k, m, blockSize = 4, 2, 1 << 12
	c := mustNew(t, k, m, blockSize, BitrotHighwayHash256)
	for _, size := range []int64{1000, 3 * blockSize, 5*blockSize + 17} {
		data := randomBytes(t, int(size), uint64(size))
		files := cloneFiles(encodeObject(t, c, data, size))
		files[1][len(files[1])-1] ^= 0xff // corrupt shard 1's last block
		readers := readersFor(files)
		memory := map[int]*memoryReader{}
		for _, i := range []int{0, 1, 3} {
			memory[i] = &memoryReader{r: bytes.NewReader(files[i])}
			readers[i] = memory[i]
		}
		got, errs, err := decodeRange(c, readers, 0, size, size)
		if err != nil {
			t.Fatalf("size %d: Decode: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: Decode returned different bytes", size)
		}
		if !errors.Is(errs[1], ErrShardCorrupt) {
			t.Errorf("size %d: shard 1 error %v, want ErrShardCorrupt", size, errs[1])
		}
		for i, r := range memory {
			if r.reads == 0 {
				t.Errorf("size %d: memory shard %d never read", size, i)
			}
		}
	}
}

var _ MemoryReaderAt = (*memoryReader)(nil)
var _ io.ReaderAt = (*memoryReader)(nil)
