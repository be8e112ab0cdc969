package s3xml

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CORSRule is one rule of a CORSConfiguration.
type CORSRule struct {
	ID             string
	AllowedMethods []string
	AllowedOrigins []string
	AllowedHeaders []string
	ExposeHeaders  []string
	// MaxAgeSeconds is -1 when absent.
	MaxAgeSeconds int
}

// MaxCORSRules is S3's limit on the rules of one CORS configuration.
const MaxCORSRules = 100

// ErrInvalidCORS is returned for a well-formed CORSConfiguration that breaks S3's rules on
// its content (S3: InvalidRequest, with the message).
var ErrInvalidCORS = errors.New("s3xml: invalid CORS configuration")

// corsMethods are the methods a CORS rule may allow.
var corsMethods = [...]string{"GET", "PUT", "HEAD", "POST", "DELETE"}

// ParseCORS parses a PutBucketCors body: 1 to MaxCORSRules CORSRule elements, each with at
// least one AllowedMethod (GET, PUT, HEAD, POST or DELETE) and one AllowedOrigin, at most
// one '*' in an origin or an allowed header, an optional ID and a non-negative
// MaxAgeSeconds. Content errors wrap ErrInvalidCORS with S3's message; structure errors
// ErrMalformed.
func ParseCORS(doc []byte) ([]CORSRule, error) {
	var v struct {
		Rules []struct {
			ID             []string `xml:"ID"`
			AllowedMethods []string `xml:"AllowedMethod"`
			AllowedOrigins []string `xml:"AllowedOrigin"`
			AllowedHeaders []string `xml:"AllowedHeader"`
			ExposeHeaders  []string `xml:"ExposeHeader"`
			MaxAgeSeconds  []string `xml:"MaxAgeSeconds"`
		} `xml:"CORSRule"`
	}
	if err := decode(doc, "CORSConfiguration", &v); err != nil {
		return nil, err
	}
	if len(v.Rules) == 0 || len(v.Rules) > MaxCORSRules {
		return nil, malformed("%d CORS rules, want 1 to %d", len(v.Rules), MaxCORSRules)
	}
	out := make([]CORSRule, len(v.Rules))
	for i, r := range v.Rules {
		if len(r.ID) > 1 || len(r.MaxAgeSeconds) > 1 || len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return nil, malformed("rule %d: %d IDs, %d MaxAgeSeconds, %d methods, %d origins", i+1, len(r.ID), len(r.MaxAgeSeconds), len(r.AllowedMethods), len(r.AllowedOrigins))
		}
		rule := CORSRule{MaxAgeSeconds: -1}
		if len(r.ID) == 1 {
			rule.ID = strings.TrimSpace(r.ID[0])
			if len(rule.ID) > 255 {
				return nil, invalidCORS("The ID of a CORS rule can be at most 255 characters")
			}
		}
		if len(r.MaxAgeSeconds) == 1 {
			n, err := strconv.Atoi(strings.TrimSpace(r.MaxAgeSeconds[0]))
			if err != nil || n < 0 {
				return nil, malformed("rule %d: MaxAgeSeconds %q", i+1, r.MaxAgeSeconds[0])
			}
			rule.MaxAgeSeconds = n
		}
		for _, m := range r.AllowedMethods {
			m = strings.TrimSpace(m)
			known := false
			for _, k := range corsMethods {
				known = known || m == k
			}
			if !known {
				return nil, invalidCORS("Found unsupported HTTP method in CORS config. Unsupported method is " + m)
			}
			rule.AllowedMethods = append(rule.AllowedMethods, m)
		}
		for _, o := range r.AllowedOrigins {
			o = strings.TrimSpace(o)
			if strings.Count(o, "*") > 1 {
				return nil, invalidCORS(`AllowedOrigin "` + o + `" can not have more than one wildcard.`)
			}
			rule.AllowedOrigins = append(rule.AllowedOrigins, o)
		}
		for _, h := range r.AllowedHeaders {
			h = strings.TrimSpace(h)
			if strings.Count(h, "*") > 1 {
				return nil, invalidCORS(`AllowedHeader "` + h + `" can not have more than one wildcard.`)
			}
			rule.AllowedHeaders = append(rule.AllowedHeaders, h)
		}
		for _, h := range r.ExposeHeaders {
			rule.ExposeHeaders = append(rule.ExposeHeaders, strings.TrimSpace(h))
		}
		out[i] = rule
	}
	return out, nil
}

func invalidCORS(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidCORS, msg) }

// CORSMessage returns the S3 message of a CORS content error.
func CORSMessage(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidCORS.Error()+": ")
}

// WriteCORS appends the CORSConfiguration of rules as S3 returns it.
func (w *Writer) WriteCORS(rules []CORSRule) {
	w.Root("CORSConfiguration")
	for _, r := range rules {
		w.Open("CORSRule")
		if r.ID != "" {
			w.String("ID", r.ID)
		}
		for _, list := range [...]struct {
			name string
			vals []string
		}{{"AllowedHeader", r.AllowedHeaders}, {"AllowedMethod", r.AllowedMethods}, {"AllowedOrigin", r.AllowedOrigins}, {"ExposeHeader", r.ExposeHeaders}} {
			for _, v := range list.vals {
				w.String(list.name, v)
			}
		}
		if r.MaxAgeSeconds >= 0 {
			w.Int("MaxAgeSeconds", int64(r.MaxAgeSeconds))
		}
		w.Close("CORSRule")
	}
	w.Close("CORSConfiguration")
}
