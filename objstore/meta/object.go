package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Object is one drive's metadata for one key: its latest version (the fields up to
// InlineData, and the format 2 fields after them) and, in format 2, its older versions.
type Object struct {
	// VersionID is random per write of the record (put, copy, metadata update, delete of a
	// version); drives that hold the same VersionID hold the same record. It is not the S3
	// version id (ID), which a metadata update keeps.
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

	// ID is the version's S3 version id; zero is the "null" version, the one an unversioned
	// or suspended bucket writes (format 2; zero in format 1).
	ID [16]byte
	// DeleteMarker tells that the version is a delete marker: no data, no parts.
	DeleteMarker bool
	// LegalHold forbids deleting or overwriting the version while set.
	LegalHold bool
	// Retention forbids deleting the version before Retention.Until.
	Retention Retention
	// Noncurrent are the key's older versions, newest first. Their VersionID is zero and
	// their own Noncurrent nil; their Erasure.Index is this drive's shard of each, which
	// the record does not store (the distribution and this drive's position give it).
	// A noncurrent version's InlineData is empty on a drive that missed it.
	Noncurrent []Object
}

// Retention is a version's object-lock retention.
type Retention struct {
	Mode  RetentionMode
	Until time.Time
}

// RetentionMode is S3's object-lock mode.
type RetentionMode uint8

// The retention modes.
const (
	RetentionNone RetentionMode = iota
	// RetentionGovernance may be lifted or shortened by a caller allowed to bypass it.
	RetentionGovernance
	// RetentionCompliance may be extended only, by anyone, and never bypassed.
	RetentionCompliance
)

// MaxVersions is the most versions (delete markers included) one key may hold; a write that
// would add one more fails with ErrTooManyVersions. The record of such a key is read whole
// on every access to the key, which is what the limit bounds (objstore/BENCHMARKS.md).
const MaxVersions = 10000

// ErrTooManyVersions is returned for a write that would give a key more than MaxVersions
// versions, or a record header longer than the format allows.
var ErrTooManyVersions = errors.New("too many versions of one key")

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
	// objectFormatV1 holds one version, the null one; objectFormatV2 holds many.
	objectFormatV1 = 1
	objectFormatV2 = 2

	flagInline       = 1 << 0
	flagDeleteMarker = 1 << 1 // format 2 only
	flagLegalHold    = 1 << 2 // format 2 only
)

// Marshal encodes o: in format 1 when o is a single null version with no format 2 field
// set (what an unversioned bucket writes, byte for byte what older binaries wrote and
// read), in format 2 otherwise.
func (o *Object) Marshal() []byte {
	if !o.needsV2() {
		var h encoder
		h.b = make([]byte, 0, 256+len(o.Metadata)*48)
		h.id(o.VersionID)
		encodeVersion(&h, o, true)
		out := frameVersion(objectMagic, objectFormatV1, h.b, len(o.InlineData))
		return append(out, o.InlineData...)
	}
	var h encoder
	h.b = make([]byte, 0, (256+len(o.Metadata)*48)*(1+len(o.Noncurrent)))
	h.id(o.VersionID)
	encodeVersion(&h, o, true)
	encodeV2(&h, o)
	h.uvarint(uint64(len(o.Noncurrent)))
	inline := len(o.InlineData)
	for i := range o.Noncurrent {
		nc := &o.Noncurrent[i]
		encodeVersion(&h, nc, false)
		encodeV2(&h, nc)
		inline += len(nc.InlineData)
	}
	out := frameVersion(objectMagic, objectFormatV2, h.b, inline)
	out = append(out, o.InlineData...)
	for i := range o.Noncurrent {
		out = append(out, o.Noncurrent[i].InlineData...)
	}
	return out
}

// needsV2 reports whether o has anything format 1 cannot hold.
func (o *Object) needsV2() bool {
	return o.ID != [16]byte{} || o.DeleteMarker || o.LegalHold || o.Retention != (Retention{}) || len(o.Noncurrent) > 0
}

// encodeVersion writes the format 1 fields of a version but its record's VersionID; the
// shard index only for the latest version (withIndex).
func encodeVersion(h *encoder, o *Object, withIndex bool) {
	h.id(o.DataDir)
	h.time(o.ModTime)
	h.varint(o.Size)
	h.string(o.ETag)
	encodeErasure(h, o.Erasure, withIndex)
	var flags uint64
	if o.Inline {
		flags |= flagInline
	}
	if o.DeleteMarker {
		flags |= flagDeleteMarker
	}
	if o.LegalHold {
		flags |= flagLegalHold
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
}

// encodeV2 writes the format 2 fields of a version.
func encodeV2(h *encoder, o *Object) {
	h.id(o.ID)
	h.byte(uint8(o.Retention.Mode))
	h.time(o.Retention.Until)
	h.uvarint(uint64(len(o.InlineData)))
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
	version, header, inline, err := unframeUpTo(objectMagic, objectFormatV2, b)
	if err != nil {
		return err
	}
	lens, err := o.decodeHeader(version, header, like)
	if err != nil {
		return err
	}
	if version == objectFormatV1 {
		if o.Inline {
			o.InlineData = inline
		} else if len(inline) > 0 {
			return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(inline))
		}
		return nil
	}
	return o.cutInline(inline, lens)
}

// cutInline gives each version of a format 2 record its inline data: lens[0] bytes of
// inline for the latest, then lens[i] for Noncurrent[i-1]; they must add up to inline.
func (o *Object) cutInline(inline []byte, lens []uint64) error {
	for i, n := range lens {
		if n > uint64(len(inline)) {
			return fmt.Errorf("%w: inline data cut short", ErrCorrupt)
		}
		v := o
		if i > 0 {
			v = &o.Noncurrent[i-1]
		}
		if n > 0 {
			v.InlineData = inline[:n:n]
		}
		inline = inline[n:]
	}
	if len(inline) > 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(inline))
	}
	return nil
}

// UnmarshalHeader decodes the metadata of an object file whose inline data may be absent or
// cut short (a listing reads only HeaderLength bytes). InlineData is left nil.
func UnmarshalHeader(b []byte) (*Object, error) {
	version, header, _, err := unframeUpTo(objectMagic, objectFormatV2, b)
	if err != nil {
		return nil, err
	}
	o := &Object{}
	if _, err := o.decodeHeader(version, header, nil); err != nil {
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

// decodeHeader decodes the header of a record of the given format version into o (all of
// o's fields but the inline data), sharing like's fields where equal (see
// UnmarshalShared); like may be nil. For format 2 it returns the inline data's length of
// each version, the latest first.
func (o *Object) decodeHeader(version uint8, header []byte, like *Object) ([]uint64, error) {
	if like == nil {
		like = &Object{}
	}
	d := decoder{b: header}
	*o = Object{}
	o.VersionID = d.id("version id")
	decodeVersion(&d, o, like, true)
	if version == objectFormatV1 {
		if o.DeleteMarker || o.LegalHold {
			d.fail("flags")
		}
		if err := d.finish(); err != nil {
			return nil, err
		}
		return nil, o.validate()
	}
	lens := []uint64{decodeV2(&d, o)}
	if n := d.count("version count", MaxVersions-1); n > 0 {
		pos := slices.Index(o.Erasure.Distribution, uint8(o.Erasure.Index))
		o.Noncurrent = make([]Object, n)
		lens = slices.Grow(lens, n)
		for i := range o.Noncurrent {
			nc := &o.Noncurrent[i]
			decodeVersion(&d, nc, o, false)
			lens = append(lens, decodeV2(&d, nc))
			if pos >= 0 && pos < len(nc.Erasure.Distribution) {
				nc.Erasure.Index = int(nc.Erasure.Distribution[pos])
			}
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	for i := range o.Noncurrent {
		if err := o.Noncurrent[i].validate(); err != nil {
			return nil, fmt.Errorf("noncurrent version %d: %w", i, err)
		}
	}
	return lens, nil
}

// decodeVersion decodes the format 1 fields of a version but the record's VersionID into
// o, sharing like's where equal; the shard index only when the record holds it.
func decodeVersion(d *decoder, o, like *Object, withIndex bool) {
	o.DataDir = d.id("data dir")
	o.ModTime = d.time("mod time")
	o.Size = d.varint("size")
	o.ETag = d.stringLike("etag", like.ETag)
	o.Erasure = decodeErasure(d, like.Erasure.Distribution, withIndex)
	flags := d.uvarint("flags")
	if flags&^(flagInline|flagDeleteMarker|flagLegalHold) != 0 {
		d.fail("flags")
	}
	o.Inline = flags&flagInline != 0
	o.DeleteMarker = flags&flagDeleteMarker != 0
	o.LegalHold = flags&flagLegalHold != 0
	o.Parts = d.parts(o.ETag, like.Parts)
	o.Metadata = d.stringMapLike("metadata", like.Metadata)
}

// decodeV2 decodes the format 2 fields of a version and returns its inline data's length.
func decodeV2(d *decoder, o *Object) uint64 {
	o.ID = d.id("id")
	mode := RetentionMode(d.byte("retention mode"))
	if mode > RetentionCompliance {
		d.fail("retention mode")
	}
	o.Retention = Retention{Mode: mode, Until: d.time("retain until")}
	return uint64(d.count("inline length", maxHeaderLength<<4))
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
	if o.DeleteMarker && (o.Size != 0 || o.Inline || len(o.Parts) > 0 || o.DataDir != [16]byte{}) {
		return fmt.Errorf("%w: a delete marker with data", ErrCorrupt)
	}
	if (o.Retention.Mode == RetentionNone) != o.Retention.Until.IsZero() {
		return fmt.Errorf("%w: retention mode and date disagree", ErrCorrupt)
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

func encodeErasure(h *encoder, e Erasure, withIndex bool) {
	h.byte(uint8(e.DataShards))
	h.byte(uint8(e.ParityShards))
	h.uvarint(uint64(e.BlockSize))
	if withIndex {
		h.byte(uint8(e.Index))
	}
	h.bytes(e.Distribution)
	h.byte(e.Bitrot)
}

// decodeErasure decodes the geometry; the distribution is like's when equal.
func decodeErasure(d *decoder, like []uint8, withIndex bool) Erasure {
	var e Erasure
	e.DataShards = int(d.byte("data shards"))
	e.ParityShards = int(d.byte("parity shards"))
	e.BlockSize = int64(d.count("block size", 1<<30))
	if withIndex {
		e.Index = int(d.byte("shard index"))
	}
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
