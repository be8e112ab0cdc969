package s3frontend

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// S3's limits on tags.
const (
	maxObjectTags  = 10
	maxBucketTags  = 50
	maxTagKeyLen   = 128 // Unicode characters
	maxTagValueLen = 256
)

// mdTagging is the metadata entry that holds an object's tags, encoded as the
// x-amz-tagging header carries them (URL query form); absent when it has none.
const mdTagging = "x-amz-tagging"

// errTaggingHeader answers an x-amz-tagging header that is not a URL-encoded query.
var errTaggingHeader = s3err.InvalidArgument.With("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")

// checkTags applies S3's rules to a tag set of an object (limit 10) or a bucket (50):
// each tag is checked in order (its characters, lengths, a repeated key), then the count,
// as S3 does.
func checkTags(tags []s3xml.Tag, limit int) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || !validTagText(t.Key):
			return s3err.InvalidTag.With("The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return s3err.InvalidTag.With("The TagKey you have provided is too long, max " + strconv.Itoa(maxTagKeyLen))
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return s3err.InvalidTag.With("Your TagKey cannot be prefixed with aws:")
		case !validTagText(t.Value):
			return s3err.InvalidTag.With("The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return s3err.InvalidTag.With("The TagValue you have provided is too long, max " + strconv.Itoa(maxTagValueLen))
		case seen[t.Key]:
			return s3err.InvalidTag.With("Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	if len(tags) > limit {
		if limit == maxObjectTags {
			return s3err.BadRequest.With("Object tags cannot be greater than 10")
		}
		return s3err.InvalidTag.With("Bucket tag count cannot be greater than 50")
	}
	return nil
}

// validTagText reports whether s holds only what S3 allows in a tag: letters, numbers,
// separators (spaces) and + - = . _ : / @, in valid UTF-8.
func validTagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Z, r) && !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// encodeTags returns the stored form of a tag set: the URL query form, in the set's order.
func encodeTags(tags []s3xml.Tag) string {
	var b strings.Builder
	for i, t := range tags {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(t.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(t.Value))
	}
	return b.String()
}

// decodeTags parses the URL query form of a tag set (the x-amz-tagging header, or the
// stored form), keeping its order; a malformed escape or a repeated key fails.
func decodeTags(s string) ([]s3xml.Tag, error) {
	if s == "" {
		return nil, nil
	}
	var tags []s3xml.Tag
	for _, pair := range strings.Split(s, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		tags = append(tags, s3xml.Tag{Key: key, Value: val})
	}
	return tags, nil
}

// countTags returns how many tags a stored tag set holds.
func countTags(stored string) int {
	if stored == "" {
		return 0
	}
	return strings.Count(stored, "&") + 1
}

// requestTags reads the x-amz-tagging header of a write: ok is false when there is none;
// the tags (possibly none, for an empty header) are checked against the object limits.
func (c *call) requestTags() (stored string, ok bool, err error) {
	v := c.header("x-amz-tagging")
	if v == nil {
		return "", false, nil
	}
	tags, err := decodeTags(string(v))
	if err != nil {
		return "", false, errTaggingHeader
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t.Key] {
			return "", false, errTaggingHeader
		}
		seen[t.Key] = true
	}
	if err := checkTags(tags, maxObjectTags); err != nil {
		return "", false, err
	}
	return encodeTags(tags), true, nil
}

// writeTagging sends a Tagging document of a stored tag set.
func (c *call) writeTagging(stored string) error {
	tags, err := decodeTags(stored)
	if err != nil {
		return err
	}
	x := c.startXML("Tagging")
	x.Open("TagSet")
	for _, t := range tags {
		x.Open("Tag")
		x.String("Key", t.Key)
		x.String("Value", t.Value)
		x.Close("Tag")
	}
	x.Close("TagSet")
	x.Close("Tagging")
	c.sendXML(200)
	return nil
}

// readTagging reads and checks a Tagging request body against limit.
func (c *call) readTagging(limit int) ([]s3xml.Tag, error) {
	doc, err := c.readXMLBody()
	if err != nil {
		return nil, err
	}
	tags, err := s3xml.ParseTagging(doc)
	if err != nil {
		return nil, s3err.MalformedXML
	}
	if err := checkTags(tags, limit); err != nil {
		return nil, err
	}
	return tags, nil
}

// addRequestTags stores the x-amz-tagging header's tags and the x-amz-acl (or grant)
// headers' ACL, if any, in the metadata of a new object.
func (c *call) addRequestTags(md map[string]string) error {
	stored, ok, err := c.requestTags()
	if err != nil {
		return err
	}
	if ok && stored != "" {
		md[mdTagging] = stored
	}
	canned, err := c.requestACL()
	if err != nil {
		return err
	}
	setRequestACL(md, canned)
	return nil
}
