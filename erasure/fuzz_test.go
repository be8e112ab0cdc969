package erasure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// fuzzGeometries are the codecs the fuzz targets pick from; small blocks give many stripes.
var fuzzGeometries = []struct {
	k, m int
	bs   int64
}{
	{1, 0, 64}, {1, 1, 64}, {2, 2, 100}, {4, 2, 256}, {3, 3, 50}, {8, 4, 1000}, {15, 1, 300},
}

// FuzzDecodeCorrupt encodes an object, damages its shard files as the input says (flip,
// overwrite, truncate, extend, drop), and decodes a range: Decode must return exactly the
// object's bytes or an error, never a wrong byte, and must never panic. Heal must agree.
func FuzzDecodeCorrupt(f *testing.F) {
	f.Add(uint8(3), uint16(1000), uint16(0), uint16(1000), []byte{})
	f.Add(uint8(3), uint16(1000), uint16(10), uint16(500), []byte{0, 0, 5, 0, 0xff})
	f.Add(uint8(5), uint16(5000), uint16(0), uint16(5000), []byte{1, 1, 0, 1, 7, 2, 3, 1, 0, 0})
	f.Add(uint8(0), uint16(200), uint16(3), uint16(7), []byte{0, 2, 0, 0, 0})
	f.Add(uint8(2), uint16(0), uint16(0), uint16(0), []byte{0, 4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, geom uint8, size, off, length uint16, ops []byte) {
		g := fuzzGeometries[int(geom)%len(fuzzGeometries)]
		c := mustNew(t, g.k, g.m, g.bs, DefaultBitrot)
		data := randomBytes(t, int(size), uint64(size))
		files := cloneFiles(encodeObject(t, c, data, int64(size)))
		readers := readersFor(files)
		// Each op is 5 bytes: shard, kind, position (2 bytes), value.
		for ; len(ops) >= 5; ops = ops[5:] {
			i := int(ops[0]) % len(files)
			if readers[i] == nil {
				continue
			}
			pos := int(ops[2])<<8 | int(ops[3])
			switch ops[1] % 5 {
			case 0: // flip bits
				if len(files[i]) > 0 {
					files[i][pos%len(files[i])] ^= ops[4] | 1
				}
			case 1: // overwrite a byte
				if len(files[i]) > 0 {
					files[i][pos%len(files[i])] = ops[4]
				}
			case 2: // truncate
				files[i] = files[i][:pos%(len(files[i])+1)]
			case 3: // extend with garbage
				files[i] = append(files[i], bytes.Repeat([]byte{ops[4]}, pos%97+1)...)
			case 4: // drive offline
				files[i] = nil
			}
			if files[i] == nil {
				readers[i] = nil
			} else {
				readers[i] = bytes.NewReader(files[i])
			}
		}
		o, l := int64(off), int64(length)
		if o > int64(size) {
			o = int64(size)
		}
		if l > int64(size)-o {
			l = int64(size) - o
		}
		got, _, err := decodeRange(c, readers, o, l, int64(size))
		want := data[o : o+l]
		switch {
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("Decode [%d,+%d) returned wrong bytes without error", o, l)
		case err != nil && !errors.Is(err, ErrReadQuorum):
			t.Fatalf("Decode: unexpected error %v", err)
		case err != nil && !bytes.HasPrefix(want, got):
			t.Fatalf("Decode failed after writing bytes that are not the object's")
		}
		// DecodeInto, which reads intact data blocks in place, agrees with Decode.
		gotInto, _, errInto := decodeInto(c, readers, o, l, int64(size))
		switch {
		case (err == nil) != (errInto == nil):
			t.Fatalf("Decode returned %v, DecodeInto %v", err, errInto)
		case errInto == nil && !bytes.Equal(gotInto, want):
			t.Fatalf("DecodeInto [%d,+%d) returned wrong bytes without error", o, l)
		case errInto != nil && !errors.Is(errInto, ErrReadQuorum):
			t.Fatalf("DecodeInto: unexpected error %v", errInto)
		}
		// Heal every shard into fresh files: when it succeeds they must be the originals.
		outs := make([]*bytes.Buffer, len(files))
		writers := make([]io.Writer, len(files))
		for i := range outs {
			outs[i] = new(bytes.Buffer)
			writers[i] = outs[i]
		}
		if _, err := c.Heal(context.Background(), readers, writers, int64(size)); err == nil {
			orig := encodeObject(t, c, data, int64(size))
			for i := range outs {
				if !bytes.Equal(outs[i].Bytes(), orig[i]) {
					t.Fatalf("Heal succeeded but shard %d differs from the original", i)
				}
			}
		} else if !errors.Is(err, ErrReadQuorum) {
			t.Fatalf("Heal: unexpected error %v", err)
		}
	})
}

// FuzzDecodeRange calls Decode with arbitrary offset, length and claimed object size over the
// shard files of a real object: it must reject what is out of range, never panic, and never
// return bytes that are not the object's.
func FuzzDecodeRange(f *testing.F) {
	f.Add(uint8(3), uint16(1000), int64(0), int64(1000), int64(1000))
	f.Add(uint8(3), uint16(1000), int64(999), int64(1), int64(1000))
	f.Add(uint8(4), uint16(123), int64(-1), int64(5), int64(123))
	f.Add(uint8(0), uint16(10), int64(5), int64(1<<62), int64(1<<62))
	f.Add(uint8(6), uint16(4000), int64(1<<40), int64(1), int64(1<<41))
	f.Add(uint8(1), uint16(64), int64(0), int64(64), int64(65))
	f.Fuzz(func(t *testing.T, geom uint8, size uint16, off, length, claimed int64) {
		g := fuzzGeometries[int(geom)%len(fuzzGeometries)]
		c := mustNew(t, g.k, g.m, g.bs, DefaultBitrot)
		data := randomBytes(t, int(size), uint64(size))
		readers := readersFor(encodeObject(t, c, data, int64(size)))
		got, _, err := decodeRange(c, readers, off, length, claimed)
		inRange := off >= 0 && length >= 0 && claimed >= 0 && off <= claimed && length <= claimed-off &&
			c.ShardFileSize(claimed) >= 0
		switch {
		case !inRange:
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("out-of-range call: err %v, want ErrInvalidArgument", err)
			}
		case claimed == int64(size):
			if err != nil || !bytes.Equal(got, data[off:off+length]) {
				t.Fatalf("valid range: err %v, equal %v", err, bytes.Equal(got, data[off:off+length]))
			}
		default:
			// A wrong size may still describe the stripes the range covers the way they were
			// written (same block lengths); then Decode returns their bytes, and past the
			// real end those are the zero padding of the last stripe (the corpus entry
			// 8d761f60111df365 is such a case). Whatever it returns must be exactly that.
			for i, b := range got {
				var want byte
				if p := off + int64(i); p < int64(size) {
					want = data[p]
				}
				if b != want {
					t.Fatalf("wrong size %d (really %d): byte %d of the range is %#x, want %#x (err %v)", claimed, size, i, b, want, err)
				}
			}
			if err == nil && int64(len(got)) != length {
				t.Fatalf("wrong size: no error but %d of %d bytes", len(got), length)
			}
		}
	})
}

// FuzzParseBitrotAlgorithm checks that parsing accepts exactly the names String produces.
func FuzzParseBitrotAlgorithm(f *testing.F) {
	for _, s := range []string{"xxh3-128", "crc32c", "highwayhash256", "bitrot(0)", "", "XXH3-128"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseBitrotAlgorithm(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) || a != BitrotInvalid {
				t.Fatalf("ParseBitrotAlgorithm(%q) = %v, %v", s, a, err)
			}
			return
		}
		if !a.Available() || a.String() != s {
			t.Fatalf("ParseBitrotAlgorithm(%q) = %v, which prints as %q", s, a, a.String())
		}
	})
}
