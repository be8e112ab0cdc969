package meta

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// formatVersion is the version this binary writes, and the newest it reads.
const formatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame returns magic, version, the header's length, the header and its CRC-32C, with room
// for extra more bytes after it.
func frame(magic string, header []byte, extra int) []byte {
	out := make([]byte, 0, len(magic)+1+binary.MaxVarintLen64+len(header)+4+extra)
	out = append(out, magic...)
	out = append(out, formatVersion)
	out = binary.AppendUvarint(out, uint64(len(header)))
	out = append(out, header...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(header, castagnoli))
}

// unframe checks the framing written by frame and the header's CRC, and returns the header
// and whatever follows it.
func unframe(magic string, b []byte) (header, rest []byte, err error) {
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return nil, nil, fmt.Errorf("%w: not a %s record", ErrCorrupt, magic)
	}
	if v := b[len(magic)]; v != formatVersion {
		if v > formatVersion {
			return nil, nil, fmt.Errorf("%w: version %d", ErrVersion, v)
		}
		return nil, nil, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	rest = b[len(magic)+1:]
	hlen, n := binary.Uvarint(rest)
	if n <= 0 || hlen > maxHeaderLength || uint64(len(rest)-n) < hlen+4 {
		return nil, nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	rest = rest[n:]
	header, rest = rest[:hlen], rest[hlen:]
	if crc32.Checksum(header, castagnoli) != binary.LittleEndian.Uint32(rest) {
		return nil, nil, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	return header, rest[4:], nil
}
