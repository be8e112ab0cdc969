package s3xml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformed is returned for a request body that is not well-formed XML or does not
// follow S3's schema for it (S3: MalformedXML).
var ErrMalformed = errors.New("s3xml: malformed XML")

// Limits on request documents, as S3 sets them.
const (
	// MaxDeleteObjects is the most keys one DeleteObjects request may name.
	MaxDeleteObjects = 1000
	// MaxParts is the most parts a CompleteMultipartUpload may list.
	MaxParts = 10000
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decode unmarshals doc into v, requiring the root element to be root (any namespace) and
// nothing but whitespace and comments after it.
func decode(doc []byte, root string, v any) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return malformed("no %s element: %v", root, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != root {
				return malformed("root element %s, want %s", t.Name.Local, root)
			}
			if err := d.DecodeElement(v, &t); err != nil {
				return malformed("%s: %v", root, err)
			}
			return trailing(d)
		case xml.ProcInst, xml.Comment, xml.Directive:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return malformed("text before the %s element", root)
			}
		}
	}
}

// trailing checks that only whitespace, comments and processing instructions follow the
// document element.
func trailing(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return malformed("after the document: %v", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return malformed("text after the document")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return malformed("content after the document")
		}
	}
}

// ParseCreateBucket parses a CreateBucketConfiguration body and returns its
// LocationConstraint ("" when absent). An empty body is valid and yields "".
func ParseCreateBucket(doc []byte) (string, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return "", nil
	}
	var v struct {
		LocationConstraint []string `xml:"LocationConstraint"`
	}
	if err := decode(doc, "CreateBucketConfiguration", &v); err != nil {
		return "", err
	}
	if len(v.LocationConstraint) > 1 {
		return "", malformed("LocationConstraint given %d times", len(v.LocationConstraint))
	}
	if len(v.LocationConstraint) == 0 {
		return "", nil
	}
	return strings.TrimSpace(v.LocationConstraint[0]), nil
}

// Delete is a parsed DeleteObjects body.
type Delete struct {
	Quiet   bool
	Objects []DeleteObject
}

// DeleteObject is one key of a DeleteObjects request.
type DeleteObject struct {
	Key       string
	VersionID string
}

// ParseDelete parses a Delete body: 1 to MaxDeleteObjects <Object> elements, each with one
// non-empty <Key>, and an optional <Quiet>true|false</Quiet>.
func ParseDelete(doc []byte) (Delete, error) {
	var v struct {
		Quiet   []string `xml:"Quiet"`
		Objects []struct {
			Key       []string `xml:"Key"`
			VersionID []string `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := decode(doc, "Delete", &v); err != nil {
		return Delete{}, err
	}
	var out Delete
	switch len(v.Quiet) {
	case 0:
	case 1:
		q, err := strconv.ParseBool(strings.TrimSpace(v.Quiet[0]))
		if err != nil {
			return Delete{}, malformed("Quiet %q", v.Quiet[0])
		}
		out.Quiet = q
	default:
		return Delete{}, malformed("Quiet given %d times", len(v.Quiet))
	}
	if len(v.Objects) == 0 || len(v.Objects) > MaxDeleteObjects {
		return Delete{}, malformed("%d objects, want 1 to %d", len(v.Objects), MaxDeleteObjects)
	}
	out.Objects = make([]DeleteObject, len(v.Objects))
	for i, o := range v.Objects {
		if len(o.Key) != 1 || o.Key[0] == "" || len(o.VersionID) > 1 {
			return Delete{}, malformed("object %d: %d keys, %d version ids", i+1, len(o.Key), len(o.VersionID))
		}
		out.Objects[i].Key = o.Key[0]
		if len(o.VersionID) == 1 {
			out.Objects[i].VersionID = o.VersionID[0]
		}
	}
	return out, nil
}

// CompletePart is one part of a CompleteMultipartUpload body. Checksums maps the name of
// each Checksum* element present ("ChecksumCRC32") to its value.
type CompletePart struct {
	PartNumber int
	ETag       string
	Checksums  map[string]string
}

// checksumElements are the per-part checksum elements S3 accepts.
var checksumElements = [...]string{"ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"}

// ParseComplete parses a CompleteMultipartUpload body: 1 to MaxParts <Part> elements, each
// with one <PartNumber> (an integer) and one <ETag>, and optional checksum elements. Part
// order is not checked here (that is InvalidPartOrder, the object layer's call).
func ParseComplete(doc []byte) ([]CompletePart, error) {
	type part struct {
		PartNumber        []string `xml:"PartNumber"`
		ETag              []string `xml:"ETag"`
		ChecksumCRC32     []string `xml:"ChecksumCRC32"`
		ChecksumCRC32C    []string `xml:"ChecksumCRC32C"`
		ChecksumCRC64NVME []string `xml:"ChecksumCRC64NVME"`
		ChecksumSHA1      []string `xml:"ChecksumSHA1"`
		ChecksumSHA256    []string `xml:"ChecksumSHA256"`
	}
	var v struct {
		Parts []part `xml:"Part"`
	}
	if err := decode(doc, "CompleteMultipartUpload", &v); err != nil {
		return nil, err
	}
	if len(v.Parts) == 0 || len(v.Parts) > MaxParts {
		return nil, malformed("%d parts, want 1 to %d", len(v.Parts), MaxParts)
	}
	out := make([]CompletePart, len(v.Parts))
	for i, p := range v.Parts {
		if len(p.PartNumber) != 1 || len(p.ETag) != 1 {
			return nil, malformed("part %d: %d part numbers, %d ETags", i+1, len(p.PartNumber), len(p.ETag))
		}
		n, err := strconv.Atoi(strings.TrimSpace(p.PartNumber[0]))
		if err != nil {
			return nil, malformed("part %d: PartNumber %q", i+1, p.PartNumber[0])
		}
		out[i] = CompletePart{PartNumber: n, ETag: strings.TrimSpace(p.ETag[0])}
		for j, vals := range [...][]string{p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256} {
			switch len(vals) {
			case 0:
			case 1:
				if out[i].Checksums == nil {
					out[i].Checksums = make(map[string]string, 1)
				}
				out[i].Checksums[checksumElements[j]] = strings.TrimSpace(vals[0])
			default:
				return nil, malformed("part %d: %s given %d times", i+1, checksumElements[j], len(vals))
			}
		}
	}
	return out, nil
}
