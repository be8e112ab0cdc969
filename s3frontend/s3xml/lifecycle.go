package s3xml

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RuleError is a well-formed document that breaks one of S3's rules on its content; Code
// is the S3 error code S3 answers it with (InvalidArgument, InvalidRequest,
// NotImplemented), Msg its message.
type RuleError struct{ Code, Msg string }

func (e *RuleError) Error() string { return "s3xml: " + e.Code + ": " + e.Msg }

// MaxLifecycleRules is S3's limit on the rules of one lifecycle configuration.
const MaxLifecycleRules = 1000

// LifecycleRule is one validated rule of a LifecycleConfiguration.
type LifecycleRule struct {
	ID      string
	Enabled bool
	// Prefix, Tags and the size bounds (0: none) are the filter, all of which must hold.
	Prefix                    string
	Tags                      []Tag
	SizeGreaterThan           int64
	SizeLessThan              int64
	ExpirationDays            int       // 0: none
	ExpirationDate            time.Time // zero: none
	ExpiredObjectDeleteMarker bool
	NoncurrentDays            int // NoncurrentVersionExpiration; 0: none
	NewerNoncurrentVersions   int
	AbortMultipartDays        int // AbortIncompleteMultipartUpload; 0: none
}

type xmlTag struct {
	Key   []string `xml:"Key"`
	Value []string `xml:"Value"`
}

type xmlFilterBody struct {
	Prefix []string `xml:"Prefix"`
	Tag    []xmlTag `xml:"Tag"`
	Gt     []string `xml:"ObjectSizeGreaterThan"`
	Lt     []string `xml:"ObjectSizeLessThan"`
}

type xmlRule struct {
	ID     []string `xml:"ID"`
	Status []string `xml:"Status"`
	Prefix []string `xml:"Prefix"`
	Filter []struct {
		xmlFilterBody
		And []xmlFilterBody `xml:"And"`
	} `xml:"Filter"`
	Expiration []struct {
		Days                      []string `xml:"Days"`
		Date                      []string `xml:"Date"`
		ExpiredObjectDeleteMarker []string `xml:"ExpiredObjectDeleteMarker"`
	} `xml:"Expiration"`
	Noncurrent []struct {
		Days  []string `xml:"NoncurrentDays"`
		Newer []string `xml:"NewerNoncurrentVersions"`
	} `xml:"NoncurrentVersionExpiration"`
	Abort []struct {
		Days []string `xml:"DaysAfterInitiation"`
	} `xml:"AbortIncompleteMultipartUpload"`
	Transition           []struct{} `xml:"Transition"`
	NoncurrentTransition []struct{} `xml:"NoncurrentVersionTransition"`
}

// ParseLifecycle parses and validates a PutBucketLifecycleConfiguration body: 1 to
// MaxLifecycleRules Rule elements with unique IDs, each with a Status (Enabled or
// Disabled), a Filter (one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or an
// And of them) or the older rule-level Prefix, and at least one of Expiration (Days > 0,
// a Date at midnight UTC, or ExpiredObjectDeleteMarker), NoncurrentVersionExpiration and
// AbortIncompleteMultipartUpload. Transitions are *RuleError NotImplemented (there are no
// storage classes). Structure errors are ErrMalformed; content errors *RuleError.
func ParseLifecycle(doc []byte) ([]LifecycleRule, error) {
	var v struct {
		Rules []xmlRule `xml:"Rule"`
	}
	if err := decode(doc, "LifecycleConfiguration", &v); err != nil {
		return nil, err
	}
	if len(v.Rules) == 0 || len(v.Rules) > MaxLifecycleRules {
		return nil, malformed("%d lifecycle rules, want 1 to %d", len(v.Rules), MaxLifecycleRules)
	}
	out := make([]LifecycleRule, len(v.Rules))
	ids := make(map[string]bool, len(v.Rules))
	for i := range v.Rules {
		r, err := parseRule(&v.Rules[i])
		if err != nil {
			return nil, err
		}
		if r.ID != "" && ids[r.ID] {
			return nil, &RuleError{"InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"}
		}
		ids[r.ID] = true
		out[i] = r
	}
	return out, nil
}

func parseRule(x *xmlRule) (LifecycleRule, error) {
	var r LifecycleRule
	if len(x.ID) > 1 || len(x.Status) != 1 || len(x.Prefix) > 1 || len(x.Filter) > 1 ||
		len(x.Expiration) > 1 || len(x.Noncurrent) > 1 || len(x.Abort) > 1 {
		return r, malformed("a rule element given more than once, or Status missing")
	}
	if len(x.ID) == 1 {
		if r.ID = strings.TrimSpace(x.ID[0]); len(r.ID) > 255 {
			return r, &RuleError{"InvalidArgument", "ID length should not exceed allowed limit of 255"}
		}
	}
	switch strings.TrimSpace(x.Status[0]) {
	case "Enabled":
		r.Enabled = true
	case "Disabled":
	default:
		return r, malformed("Status %q", x.Status[0])
	}
	switch {
	case len(x.Prefix) == 1 && len(x.Filter) == 1:
		return r, malformed("both Prefix and Filter")
	case len(x.Prefix) == 1:
		r.Prefix = x.Prefix[0]
	case len(x.Filter) == 1:
		f := x.Filter[0]
		n := len(f.Prefix) + len(f.Tag) + len(f.Gt) + len(f.Lt) + len(f.And)
		if n > 1 {
			return r, malformed("a Filter with %d conditions outside And", n)
		}
		body := f.xmlFilterBody
		if len(f.And) == 1 {
			body = f.And[0]
			if len(body.Prefix)+len(body.Tag)+len(body.Gt)+len(body.Lt) < 2 {
				return r, malformed("an And of fewer than two conditions")
			}
		}
		if err := r.setFilter(body); err != nil {
			return r, err
		}
	default:
		return r, malformed("neither Filter nor Prefix")
	}
	if len(x.Transition)+len(x.NoncurrentTransition) > 0 {
		return r, &RuleError{"NotImplemented", "Lifecycle transitions are not implemented: there are no storage classes."}
	}
	actions := 0
	if len(x.Expiration) == 1 {
		actions++
		e := x.Expiration[0]
		if len(e.Days)+len(e.Date)+len(e.ExpiredObjectDeleteMarker) != 1 {
			return r, malformed("an Expiration needs exactly one of Days, Date and ExpiredObjectDeleteMarker")
		}
		switch {
		case len(e.Days) == 1:
			d, err := positive(e.Days[0])
			if err != nil {
				return r, &RuleError{"InvalidArgument", "'Days' for Expiration action must be a positive integer"}
			}
			r.ExpirationDays = d
		case len(e.Date) == 1:
			t, err := time.Parse(time.RFC3339, strings.TrimSpace(e.Date[0]))
			if err != nil {
				return r, &RuleError{"InvalidArgument", "Invalid date format, it should be in ISO 8601 format"}
			}
			if t = t.UTC(); t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
				return r, &RuleError{"InvalidArgument", "'Date' must be at midnight GMT"}
			}
			r.ExpirationDate = t
		default:
			b, err := strconv.ParseBool(strings.TrimSpace(e.ExpiredObjectDeleteMarker[0]))
			if err != nil {
				return r, malformed("ExpiredObjectDeleteMarker %q", e.ExpiredObjectDeleteMarker[0])
			}
			if b && len(r.Tags) > 0 {
				return r, &RuleError{"InvalidArgument", "ExpiredObjectDeleteMarker cannot be specified with tags."}
			}
			r.ExpiredObjectDeleteMarker = b
		}
	}
	if len(x.Noncurrent) == 1 {
		actions++
		nc := x.Noncurrent[0]
		if len(nc.Days) != 1 || len(nc.Newer) > 1 {
			return r, malformed("NoncurrentVersionExpiration needs one NoncurrentDays")
		}
		d, err := positive(nc.Days[0])
		if err != nil {
			return r, &RuleError{"InvalidArgument", "'NoncurrentDays' in NoncurrentVersionExpiration action must be a positive integer"}
		}
		r.NoncurrentDays = d
		if len(nc.Newer) == 1 {
			if r.NewerNoncurrentVersions, err = positive(nc.Newer[0]); err != nil {
				return r, &RuleError{"InvalidArgument", "'NewerNoncurrentVersions' in NoncurrentVersionExpiration action must be a positive integer"}
			}
		}
	}
	if len(x.Abort) == 1 {
		actions++
		if len(x.Abort[0].Days) != 1 {
			return r, malformed("AbortIncompleteMultipartUpload needs one DaysAfterInitiation")
		}
		d, err := positive(x.Abort[0].Days[0])
		if err != nil {
			return r, &RuleError{"InvalidArgument", "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"}
		}
		if len(r.Tags) > 0 || r.SizeGreaterThan > 0 || r.SizeLessThan > 0 {
			return r, &RuleError{"InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags or object size filters."}
		}
		r.AbortMultipartDays = d
	}
	if actions == 0 {
		return r, &RuleError{"InvalidRequest", "At least one action needs to be specified in a rule"}
	}
	return r, nil
}

// setFilter reads the conditions of a Filter or of its And.
func (r *LifecycleRule) setFilter(f xmlFilterBody) error {
	if len(f.Prefix) > 1 || len(f.Gt) > 1 || len(f.Lt) > 1 {
		return malformed("a filter condition given more than once")
	}
	if len(f.Prefix) == 1 {
		r.Prefix = f.Prefix[0]
	}
	seen := make(map[string]bool, len(f.Tag))
	for _, t := range f.Tag {
		if len(t.Key) != 1 || len(t.Value) != 1 {
			return malformed("a filter Tag needs one Key and one Value")
		}
		if t.Key[0] == "" || len(t.Key[0]) > 128 || len(t.Value[0]) > 256 {
			return &RuleError{"InvalidArgument", "The filter tag's key or value is invalid"}
		}
		if seen[t.Key[0]] {
			return &RuleError{"InvalidArgument", "Duplicate Tag Keys are not allowed."}
		}
		seen[t.Key[0]] = true
		r.Tags = append(r.Tags, Tag{Key: t.Key[0], Value: t.Value[0]})
	}
	for _, b := range []struct {
		vals []string
		dst  *int64
	}{{f.Gt, &r.SizeGreaterThan}, {f.Lt, &r.SizeLessThan}} {
		if len(b.vals) == 1 {
			n, err := strconv.ParseInt(strings.TrimSpace(b.vals[0]), 10, 64)
			if err != nil || n < 0 {
				return &RuleError{"InvalidArgument", "Object size filters must be non-negative integers"}
			}
			*b.dst = n
		}
	}
	if r.SizeLessThan > 0 && r.SizeGreaterThan >= r.SizeLessThan {
		return &RuleError{"InvalidArgument", fmt.Sprintf("ObjectSizeGreaterThan (%d) must be less than ObjectSizeLessThan (%d)", r.SizeGreaterThan, r.SizeLessThan)}
	}
	return nil
}

// positive parses a positive decimal integer.
func positive(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a positive integer: %q", s)
	}
	return n, nil
}
