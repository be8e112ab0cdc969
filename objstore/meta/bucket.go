package meta

import (
	"fmt"
	"time"
)

// BucketConfig is one drive's copy of a bucket's configuration: the documents of its S3
// sub-resources (versioning, tagging, CORS, lifecycle, ACL, ...) by name. The documents
// are opaque here: the face that stores one parses and validates it, so a new
// sub-resource is a new name, not a new format version.
type BucketConfig struct {
	// Updated is when the record was last written; drives that disagree are resolved in
	// favour of the newest record a read quorum holds.
	Updated time.Time
	// Docs maps a sub-resource name to its document; a name absent has none.
	Docs map[string]string
}

const bucketMagic = "FSTB"

// Marshal encodes c in the current format version.
func (c *BucketConfig) Marshal() []byte {
	var h encoder
	h.time(c.Updated)
	h.stringMap(c.Docs)
	return frame(bucketMagic, h.b, 0)
}

// UnmarshalBucketConfig decodes a bucket configuration record.
func UnmarshalBucketConfig(b []byte) (*BucketConfig, error) {
	header, rest, err := unframe(bucketMagic, b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	d := decoder{b: header}
	c := &BucketConfig{}
	c.Updated = d.time("updated")
	c.Docs = d.stringMap("documents")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return c, nil
}
