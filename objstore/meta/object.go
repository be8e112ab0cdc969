package meta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Object is one drive's metadata for one object.
type Object struct {
	// VersionID is random per write (put, copy, metadata update); drives that hold the same
	// VersionID hold the same version of the object.
	VersionID [16]byte
	// DataDir names the directory holding the object's part files; zero when the data is
	// inline or the object is empty.
	DataDir [16]byte
	ModTime time.Time
	Size    int64
	ETag    string
	Erasure Erasure
	// Inline is true when the data is stored in the metadata file itself (InlineData).
	Inline bool
	Parts  []Part
	// Metadata holds the object's stored headers under lower-case names: content-type,
	// cache-control, x-amz-meta-*, x-amz-checksum-*, and what the FUSE face keeps
	// (x-amz-meta-mode, -uid, -gid, -mtime, ...).
	Metadata map[string]string
	// InlineData is this drive's framed shard of the data when Inline is set.
	InlineData []byte
}

// Erasure is the erasure-coding geometry of an object, and this drive's place in it.
type Erasure struct {
	DataShards   int
	ParityShards int
	BlockSize    int64
	// Index is the shard held by this drive (0-based).
	Index int
	// Distribution[i] is the shard held by the i-th drive of the set.
	Distribution []uint8
	// Bitrot identifies the checksum algorithm framing every shard block.
	Bitrot uint8
}

// Part is one part of an object: a single put has one, a multipart upload one per part.
type Part struct {
	Number int
	Size   int64
	ETag   string
	// Checksum is the part's S3 checksum as "ALGORITHM:base64value", or "".
	Checksum string
}

const (
	objectMagic = "FSTO"
	flagInline  = 1 << 0
)

// Marshal encodes o in the current format version.
func (o *Object) Marshal() []byte {
	var h encoder
	h.b = make([]byte, 0, 256+len(o.Metadata)*48)
	h.id(o.VersionID)
	h.id(o.DataDir)
	h.time(o.ModTime)
	h.varint(o.Size)
	h.string(o.ETag)
	encodeErasure(&h, o.Erasure)
	var flags uint64
	if o.Inline {
		flags |= flagInline
	}
	h.uvarint(flags)
	h.uvarint(uint64(len(o.Parts)))
	for _, p := range o.Parts {
		h.uvarint(uint64(p.Number))
		h.varint(p.Size)
		h.string(p.ETag)
		h.string(p.Checksum)
	}
	h.stringMap(o.Metadata)

	out := frame(objectMagic, h.b, len(o.InlineData))
	return append(out, o.InlineData...)
}

// Unmarshal decodes an object file. InlineData aliases b.
func Unmarshal(b []byte) (*Object, error) {
	o := &Object{}
	if err := o.UnmarshalShared(b, nil); err != nil {
		return nil, err
	}
	return o, nil
}

// UnmarshalShared decodes an object file into o, as Unmarshal does, except that where a
// string, the distribution, the parts or the metadata of the record equal those of like (nil
// for none), o takes like's instead of a copy of its own: the drives' copies of one version
// differ only in their shard index, so decoding them after the first allocates nothing. The
// core never modifies decoded metadata in place; objects that share must not be modified
// either. On error o holds no usable value.
func (o *Object) UnmarshalShared(b []byte, like *Object) error {
	header, inline, err := unframe(objectMagic, b)
	if err != nil {
		return err
	}
	if err := o.decodeHeader(header, like); err != nil {
		return err
	}
	if o.Inline {
		o.InlineData = inline
	} else if len(inline) > 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(inline))
	}
	return nil
}

// UnmarshalHeader decodes the metadata of an object file whose inline data may be absent or
// cut short (a listing reads only HeaderLength bytes). InlineData is left nil.
func UnmarshalHeader(b []byte) (*Object, error) {
	header, _, err := unframe(objectMagic, b)
	if err != nil {
		return nil, err
	}
	o := &Object{}
	if err := o.decodeHeader(header, nil); err != nil {
		return nil, err
	}
	return o, nil
}

// HeaderLength returns how many leading bytes of an object file hold its header and CRC, or
// 0 when b is too short to tell. A caller that wants only the metadata, not the inline data,
// reads that many bytes.
func HeaderLength(b []byte) int {
	if len(b) < len(objectMagic)+1 {
		return 0
	}
	hlen, n := binary.Uvarint(b[len(objectMagic)+1:])
	if n <= 0 || hlen > maxHeaderLength {
		return 0
	}
	return len(objectMagic) + 1 + n + int(hlen) + 4
}

// decodeHeader decodes header into o (all of o's fields but InlineData), sharing like's
// fields where equal (see UnmarshalShared); like may be nil.
func (o *Object) decodeHeader(header []byte, like *Object) error {
	if like == nil {
		like = &Object{}
	}
	d := decoder{b: header}
	*o = Object{}
	o.VersionID = d.id("version id")
	o.DataDir = d.id("data dir")
	o.ModTime = d.time("mod time")
	o.Size = d.varint("size")
	o.ETag = d.stringLike("etag", like.ETag)
	o.Erasure = decodeErasure(&d, like.Erasure.Distribution)
	flags := d.uvarint("flags")
	o.Inline = flags&flagInline != 0
	o.Parts = d.parts(o.ETag, like.Parts)
	o.Metadata = d.stringMapLike("metadata", like.Metadata)
	if err := d.finish(); err != nil {
		return err
	}
	return o.validate()
}

// parts decodes the part list, returning like when it is equal. A part's ETag equal to
// the object's (a single put's one part) shares its string.
func (d *decoder) parts(etag string, like []Part) []Part {
	n := d.count("part count", maxParts)
	if n == 0 {
		return nil
	}
	if n == len(like) {
		probe := *d
		same := true
		for i := 0; i < n && same; i++ {
			same = probe.count("part number", maxParts) == like[i].Number &&
				probe.varint("part size") == like[i].Size &&
				probe.equalString("part etag", like[i].ETag) &&
				probe.equalString("part checksum", like[i].Checksum)
		}
		if same && probe.err == nil {
			*d = probe
			return like
		}
	}
	parts := make([]Part, n)
	for i := range parts {
		p := &parts[i]
		p.Number = d.count("part number", maxParts)
		p.Size = d.varint("part size")
		p.ETag = d.stringLike("part etag", etag)
		p.Checksum = d.string("part checksum")
	}
	return parts
}

// validate checks the invariants between fields that the rest of the core relies on, so that
// a record that decodes is a record that can be used without further checks.
func (o *Object) validate() error {
	if o.Size < 0 {
		return fmt.Errorf("%w: negative size", ErrCorrupt)
	}
	if err := o.Erasure.validate(); err != nil {
		return err
	}
	var total int64
	for i, p := range o.Parts {
		if p.Size < 0 || (i > 0 && p.Number <= o.Parts[i-1].Number) {
			return fmt.Errorf("%w: part %d", ErrCorrupt, i)
		}
		total += p.Size
		if total < 0 {
			return fmt.Errorf("%w: part sizes overflow", ErrCorrupt)
		}
	}
	if len(o.Parts) > 0 && total != o.Size {
		return fmt.Errorf("%w: parts sum to %d, size is %d", ErrCorrupt, total, o.Size)
	}
	return nil
}

func encodeErasure(h *encoder, e Erasure) {
	h.byte(uint8(e.DataShards))
	h.byte(uint8(e.ParityShards))
	h.uvarint(uint64(e.BlockSize))
	h.byte(uint8(e.Index))
	h.bytes(e.Distribution)
	h.byte(e.Bitrot)
}

// decodeErasure decodes the geometry; the distribution is like's when equal.
func decodeErasure(d *decoder, like []uint8) Erasure {
	var e Erasure
	e.DataShards = int(d.byte("data shards"))
	e.ParityShards = int(d.byte("parity shards"))
	e.BlockSize = int64(d.count("block size", 1<<30))
	e.Index = int(d.byte("shard index"))
	switch dist := d.bytes("distribution"); {
	case len(dist) > 0 && bytes.Equal(dist, like):
		e.Distribution = like
	case len(dist) > 0:
		e.Distribution = append([]uint8(nil), dist...)
	}
	e.Bitrot = d.byte("bitrot algorithm")
	return e
}

// validate checks that the geometry is one the erasure codec takes and that the
// distribution is a permutation of the shards.
func (e Erasure) validate() error {
	switch {
	case e.DataShards < 1 || e.ParityShards < 0 || e.DataShards+e.ParityShards > maxShards:
		return fmt.Errorf("%w: erasure %d+%d", ErrCorrupt, e.DataShards, e.ParityShards)
	case e.BlockSize < 1:
		return fmt.Errorf("%w: block size %d", ErrCorrupt, e.BlockSize)
	case e.Index >= e.DataShards+e.ParityShards:
		return fmt.Errorf("%w: shard index %d", ErrCorrupt, e.Index)
	case len(e.Distribution) != e.DataShards+e.ParityShards:
		return fmt.Errorf("%w: distribution of %d drives", ErrCorrupt, len(e.Distribution))
	}
	var seen [(maxShards + 63) / 64]uint64 // bit s set once shard s is placed
	for _, s := range e.Distribution {
		word, bit := s/64, uint64(1)<<(s%64)
		if int(s) >= len(e.Distribution) || seen[word]&bit != 0 {
			return fmt.Errorf("%w: distribution is not a permutation", ErrCorrupt)
		}
		seen[word] |= bit
	}
	return nil
}
