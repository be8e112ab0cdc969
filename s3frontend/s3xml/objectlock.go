package s3xml

import (
	"strconv"
	"strings"
	"time"
)

// ObjectLockConfig is a PutObjectLockConfiguration document: object lock enabled, with an
// optional default retention of Days or Years.
type ObjectLockConfig struct {
	// Mode is GOVERNANCE or COMPLIANCE, "" for no default retention.
	Mode        string
	Days, Years int
}

// maxRetentionDays bounds a default retention (S3 refuses more than 100 years).
const maxRetentionDays = 36500

// ParseObjectLockConfig parses an ObjectLockConfiguration: ObjectLockEnabled must be
// Enabled; a Rule holds one DefaultRetention with a Mode and exactly one of Days and
// Years, positive.
func ParseObjectLockConfig(doc []byte) (ObjectLockConfig, error) {
	var v struct {
		Enabled []string `xml:"ObjectLockEnabled"`
		Rule    []struct {
			Default []struct {
				Mode  []string `xml:"Mode"`
				Days  []string `xml:"Days"`
				Years []string `xml:"Years"`
			} `xml:"DefaultRetention"`
		} `xml:"Rule"`
	}
	if err := decode(doc, "ObjectLockConfiguration", &v); err != nil {
		return ObjectLockConfig{}, err
	}
	if st, err := oneOf("ObjectLockEnabled", v.Enabled, "Enabled"); err != nil || st == "" {
		return ObjectLockConfig{}, malformed("ObjectLockEnabled must be Enabled")
	}
	var out ObjectLockConfig
	switch len(v.Rule) {
	case 0:
		return out, nil
	case 1:
	default:
		return ObjectLockConfig{}, malformed("more than one Rule")
	}
	if len(v.Rule[0].Default) != 1 {
		return ObjectLockConfig{}, malformed("a Rule holds one DefaultRetention")
	}
	d := v.Rule[0].Default[0]
	mode, err := oneOf("Mode", d.Mode, "GOVERNANCE", "COMPLIANCE")
	if err != nil || mode == "" {
		return ObjectLockConfig{}, malformed("DefaultRetention needs a Mode")
	}
	out.Mode = mode
	if len(d.Days)+len(d.Years) != 1 {
		return ObjectLockConfig{}, malformed("DefaultRetention needs one of Days and Years")
	}
	num := func(vals []string, limit int) (int, error) {
		if len(vals) == 0 {
			return 0, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
		if err != nil || n < 1 || n > limit {
			return 0, malformed("retention period %q", vals[0])
		}
		return n, nil
	}
	if out.Days, err = num(d.Days, maxRetentionDays); err != nil {
		return ObjectLockConfig{}, err
	}
	if out.Years, err = num(d.Years, maxRetentionDays/365); err != nil {
		return ObjectLockConfig{}, err
	}
	return out, nil
}

// Retention is a PutObjectRetention document: a Mode and a RetainUntilDate, or neither
// (which removes the retention).
type Retention struct {
	Mode  string
	Until time.Time
}

// ParseRetention parses a Retention document.
func ParseRetention(doc []byte) (Retention, error) {
	var v struct {
		Mode  []string `xml:"Mode"`
		Until []string `xml:"RetainUntilDate"`
	}
	if err := decode(doc, "Retention", &v); err != nil {
		return Retention{}, err
	}
	mode, err := oneOf("Mode", v.Mode, "GOVERNANCE", "COMPLIANCE")
	if err != nil {
		return Retention{}, err
	}
	if (mode == "") != (len(v.Until) == 0) || len(v.Until) > 1 {
		return Retention{}, malformed("Mode and RetainUntilDate go together")
	}
	out := Retention{Mode: mode}
	if mode != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v.Until[0]))
		if err != nil || t.IsZero() {
			return Retention{}, malformed("RetainUntilDate %q", v.Until[0])
		}
		out.Until = t.UTC()
	}
	return out, nil
}

// ParseLegalHold parses a LegalHold document: Status ON or OFF.
func ParseLegalHold(doc []byte) (bool, error) {
	var v struct {
		Status []string `xml:"Status"`
	}
	if err := decode(doc, "LegalHold", &v); err != nil {
		return false, err
	}
	st, err := oneOf("Status", v.Status, "ON", "OFF")
	if err != nil || st == "" {
		return false, malformed("LegalHold needs a Status of ON or OFF")
	}
	return st == "ON", nil
}
