package meta

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// formatVersion is the version this binary writes for the upload, part and bucket
// records, and the newest of theirs it reads. Object records have versions of their own
// (objectFormatV1, objectFormatV2).
const formatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame returns magic, version, the header's length, the header and its CRC-32C, with room
// for extra more bytes after it.
func frame(magic string, header []byte, extra int) []byte {
	return frameVersion(magic, formatVersion, header, extra)
}

// frameVersion is frame for a record of the given format version.
func frameVersion(magic string, version uint8, header []byte, extra int) []byte {
	out := make([]byte, 0, len(magic)+1+binary.MaxVarintLen64+len(header)+4+extra)
	out = append(out, magic...)
	out = append(out, version)
	out = binary.AppendUvarint(out, uint64(len(header)))
	out = append(out, header...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(header, castagnoli))
}

// unframe checks the framing written by frame and the header's CRC, and returns the header
// and whatever follows it.
func unframe(magic string, b []byte) (header, rest []byte, err error) {
	_, header, rest, err = unframeUpTo(magic, formatVersion, b)
	return header, rest, err
}

// unframeUpTo is unframe for a record whose format versions are 1 to newest; it returns
// the record's version too.
func unframeUpTo(magic string, newest uint8, b []byte) (version uint8, header, rest []byte, err error) {
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return 0, nil, nil, fmt.Errorf("%w: not a %s record", ErrCorrupt, magic)
	}
	version = b[len(magic)]
	if version < 1 || version > newest {
		if version > newest {
			return 0, nil, nil, fmt.Errorf("%w: version %d", ErrVersion, version)
		}
		return 0, nil, nil, fmt.Errorf("%w: version %d", ErrCorrupt, version)
	}
	rest = b[len(magic)+1:]
	hlen, n := binary.Uvarint(rest)
	if n <= 0 || hlen > maxHeaderLength || uint64(len(rest)-n) < hlen+4 {
		return 0, nil, nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	rest = rest[n:]
	header, rest = rest[:hlen], rest[hlen:]
	if crc32.Checksum(header, castagnoli) != binary.LittleEndian.Uint32(rest) {
		return 0, nil, nil, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	return version, header, rest[4:], nil
}
