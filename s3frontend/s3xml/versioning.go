package s3xml

import "strings"

// Versioning is a parsed VersioningConfiguration body. Either field is "" when absent.
type Versioning struct {
	// Status is "Enabled" or "Suspended".
	Status string
	// MFADelete is "Enabled" or "Disabled".
	MFADelete string
}

// ParseVersioning parses a PutBucketVersioning body: a VersioningConfiguration with at
// most one Status (Enabled or Suspended) and at most one MfaDelete (Enabled or Disabled),
// the values S3 accepts; anything else is malformed.
func ParseVersioning(doc []byte) (Versioning, error) {
	var v struct {
		Status    []string `xml:"Status"`
		MFADelete []string `xml:"MfaDelete"`
	}
	if err := decode(doc, "VersioningConfiguration", &v); err != nil {
		return Versioning{}, err
	}
	var out Versioning
	var err error
	if out.Status, err = oneOf("Status", v.Status, "Enabled", "Suspended"); err != nil {
		return Versioning{}, err
	}
	if out.MFADelete, err = oneOf("MfaDelete", v.MFADelete, "Enabled", "Disabled"); err != nil {
		return Versioning{}, err
	}
	return out, nil
}

// oneOf returns the single value of element name, which must be one of allowed, or ""
// when the element is absent.
func oneOf(name string, vals []string, allowed ...string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		s := strings.TrimSpace(vals[0])
		for _, a := range allowed {
			if s == a {
				return s, nil
			}
		}
		return "", malformed("%s %q", name, vals[0])
	}
	return "", malformed("%s given %d times", name, len(vals))
}
