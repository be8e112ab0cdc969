package s3xml

// Tag is one tag of a Tagging document.
type Tag struct{ Key, Value string }

// MaxTagsParsed bounds the tags a Tagging document may hold before its limits are checked
// (S3's are 10 per object, 50 per bucket); more is malformed, so that a huge document is
// refused as soon as it is parsed.
const MaxTagsParsed = 1000

// ParseTagging parses a PutObjectTagging or PutBucketTagging body: a Tagging element with
// one TagSet of Tag elements, each with exactly one Key and one Value (which may be
// empty). The tags' limits (count, lengths, characters, duplicates) are the caller's:
// S3 answers them with other codes than MalformedXML.
func ParseTagging(doc []byte) ([]Tag, error) {
	var v struct {
		TagSets []struct {
			Tags []struct {
				Key   []string `xml:"Key"`
				Value []string `xml:"Value"`
			} `xml:"Tag"`
		} `xml:"TagSet"`
	}
	if err := decode(doc, "Tagging", &v); err != nil {
		return nil, err
	}
	if len(v.TagSets) != 1 {
		return nil, malformed("%d TagSet elements", len(v.TagSets))
	}
	set := v.TagSets[0].Tags
	if len(set) > MaxTagsParsed {
		return nil, malformed("%d tags", len(set))
	}
	out := make([]Tag, len(set))
	for i, t := range set {
		if len(t.Key) != 1 || len(t.Value) != 1 {
			return nil, malformed("tag %d: %d keys, %d values", i+1, len(t.Key), len(t.Value))
		}
		out[i] = Tag{Key: t.Key[0], Value: t.Value[0]}
	}
	return out, nil
}
