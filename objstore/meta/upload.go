package meta

import (
	"fmt"
	"time"
)

// Upload is one drive's record of a multipart upload in progress.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
	// Erasure is the geometry every part of the upload is written with; Index is this drive's.
	Erasure Erasure
	// Metadata holds the headers given at initiation, stored on the object at completion.
	Metadata map[string]string
}

// PartRecord is one drive's record of an uploaded part.
type PartRecord struct {
	Part
	ModTime time.Time
}

const (
	uploadMagic = "FSTU"
	partMagic   = "FSTP"
)

// Marshal encodes u in the current format version.
func (u *Upload) Marshal() []byte {
	var h encoder
	h.string(u.Key)
	h.string(u.UploadID)
	h.time(u.Initiated)
	encodeErasure(&h, u.Erasure, true)
	h.stringMap(u.Metadata)
	return frame(uploadMagic, h.b, 0)
}

// UnmarshalUpload decodes an upload record.
func UnmarshalUpload(b []byte) (*Upload, error) {
	header, rest, err := unframe(uploadMagic, b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	d := decoder{b: header}
	u := &Upload{}
	u.Key = d.string("key")
	u.UploadID = d.string("upload id")
	u.Initiated = d.time("initiated")
	u.Erasure = decodeErasure(&d, nil, true)
	u.Metadata = d.stringMap("metadata")
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := u.Erasure.validate(); err != nil {
		return nil, err
	}
	return u, nil
}

// Marshal encodes p in the current format version.
func (p *PartRecord) Marshal() []byte {
	var h encoder
	h.uvarint(uint64(p.Number))
	h.varint(p.Size)
	h.string(p.ETag)
	h.string(p.Checksum)
	h.time(p.ModTime)
	return frame(partMagic, h.b, 0)
}

// UnmarshalPart decodes a part record.
func UnmarshalPart(b []byte) (*PartRecord, error) {
	header, rest, err := unframe(partMagic, b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	d := decoder{b: header}
	p := &PartRecord{}
	p.Number = d.count("part number", maxParts)
	p.Size = d.varint("part size")
	p.ETag = d.string("part etag")
	p.Checksum = d.string("part checksum")
	p.ModTime = d.time("mod time")
	if err := d.finish(); err != nil {
		return nil, err
	}
	if p.Number < 1 || p.Size < 0 {
		return nil, fmt.Errorf("%w: part %d of size %d", ErrCorrupt, p.Number, p.Size)
	}
	return p, nil
}
