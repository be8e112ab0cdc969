// Package postpolicy parses and checks the policy document of an S3 browser form upload
// (POST Object): a base64 JSON document with an expiration and the conditions that the
// form's fields must meet (exact match, starts-with, and the file's content-length-range).
// It knows nothing of HTTP: the S3 face reads the form and asks Check.
package postpolicy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxSize bounds a policy document (base64 text); S3 limits the fields before the file
// to 20 KB, which a policy cannot exceed either.
const MaxSize = 20 << 10

// Error is a refusal with S3's code: InvalidPolicyDocument for a document that does not
// parse, AccessDenied for a form the policy does not admit.
type Error struct {
	Code, Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(msg string) *Error { return &Error{"InvalidPolicyDocument", "Invalid Policy: " + msg} }

func denied(msg string) *Error {
	return &Error{"AccessDenied", "Invalid according to Policy: " + msg}
}

// Op is a condition's operator.
type Op uint8

// The operators of a policy's conditions.
const (
	OpEq Op = iota + 1
	OpStartsWith
)

// Condition is one field condition: the form field Field (lower case, without "$")
// equals, or starts with, Value.
type Condition struct {
	Op           Op
	Field, Value string
	// text is the condition as S3 prints it in a refusal.
	text string
}

// Policy is a parsed policy document.
type Policy struct {
	Expiration time.Time
	Conditions []Condition
	// MinLength and MaxLength are the content-length-range's bounds of the file's size;
	// HasLength tells that the policy has one.
	MinLength, MaxLength int64
	HasLength            bool
}

// Parse decodes a base64 policy document.
func Parse(b64 []byte) (*Policy, error) {
	if len(b64) > MaxSize {
		return nil, invalid("Policy is too large.")
	}
	doc := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(doc, bytes.TrimSpace(b64))
	if err != nil {
		return nil, invalid("Invalid base64 encoding.")
	}
	return ParseJSON(doc[:n])
}

// ParseJSON parses a decoded policy document.
func ParseJSON(doc []byte) (*Policy, error) {
	var raw struct {
		Expiration *string            `json:"expiration"`
		Conditions *[]json.RawMessage `json:"conditions"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, invalid("Invalid JSON.")
	}
	if dec.More() {
		return nil, invalid("Invalid JSON.")
	}
	if raw.Expiration == nil {
		return nil, invalid("Policy missing expiration.")
	}
	exp, err := time.Parse(time.RFC3339Nano, *raw.Expiration)
	if err != nil {
		return nil, invalid("Invalid 'expiration' value: '" + *raw.Expiration + "'")
	}
	if raw.Conditions == nil {
		return nil, invalid("Policy missing conditions.")
	}
	p := &Policy{Expiration: exp}
	for _, c := range *raw.Conditions {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addCondition parses one element of conditions: {"field": "value"} (exact match, one or
// more fields) or an array ["eq"|"starts-with", "$field", "value"] or
// ["content-length-range", min, max].
func (p *Policy) addCondition(c json.RawMessage) error {
	c = bytes.TrimSpace(c)
	if len(c) > 0 && c[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(c, &m); err != nil || len(m) == 0 {
			return invalid("Invalid Simple-Condition: a condition object needs one field and its value.")
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return invalid("Invalid Simple-Condition: value must be a string.")
			}
			p.Conditions = append(p.Conditions, Condition{Op: OpEq, Field: strings.ToLower(strings.TrimPrefix(k, "$")), Value: s,
				text: fmt.Sprintf(`["eq", "$%s", %q]`, k, s)})
		}
		return nil
	}
	var arr []any
	if err := json.Unmarshal(c, &arr); err != nil || len(arr) != 3 {
		return invalid("Invalid condition: one object or an array of three elements.")
	}
	op, ok := arr[0].(string)
	if !ok {
		return invalid("Invalid condition: the operator must be a string.")
	}
	switch strings.ToLower(op) {
	case "content-length-range":
		lo, ok1 := number(arr[1])
		hi, ok2 := number(arr[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return invalid("Invalid content-length-range: two non-negative integers, the first no larger.")
		}
		p.MinLength, p.MaxLength, p.HasLength = lo, hi, true
		return nil
	case "eq", "starts-with":
	default:
		return invalid("Invalid condition: unknown operator '" + op + "'.")
	}
	field, ok1 := arr[1].(string)
	value, ok2 := arr[2].(string)
	if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
		return invalid("Invalid condition: a '$field' and a string value.")
	}
	cond := Condition{Op: OpEq, Field: strings.ToLower(field[1:]), Value: value, text: fmt.Sprintf(`[%q, %q, %q]`, op, field, value)}
	if strings.EqualFold(op, "starts-with") {
		cond.Op = OpStartsWith
	}
	p.Conditions = append(p.Conditions, cond)
	return nil
}

// number reads a JSON number or a decimal string as an integer.
func number(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x != float64(int64(x)) {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// exempt reports whether a form field needs no condition, as S3 rules: the signature,
// the file, the policy itself and the x-ignore- fields.
func exempt(field string) bool {
	switch field {
	case "x-amz-signature", "file", "policy":
		return true
	}
	return strings.HasPrefix(field, "x-ignore-")
}

// ErrExpired is the refusal of a policy past its expiration.
var ErrExpired = denied("Policy expired.")

// Check decides whether the form's fields (names in lower case; bucket among them, the
// URL's bucket; key with ${filename} already replaced) meet the policy at now: the policy
// has not expired, every condition holds, and every field but the exempt ones is named
// by a condition. It returns nil or an *Error.
func (p *Policy) Check(fields map[string]string, now time.Time) error {
	if !now.Before(p.Expiration) {
		return ErrExpired
	}
	named := make(map[string]bool, len(p.Conditions))
	for _, c := range p.Conditions {
		named[c.Field] = true
		v, ok := fields[c.Field]
		switch c.Op {
		case OpEq:
			ok = ok && v == c.Value
		case OpStartsWith:
			ok = ok && strings.HasPrefix(v, c.Value) || !ok && c.Value == ""
		}
		if !ok {
			return denied("Policy Condition failed: " + c.text)
		}
	}
	var extra []string
	for f := range fields {
		if !named[f] && !exempt(f) && f != "bucket" {
			extra = append(extra, f)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return denied("Extra input fields: " + strings.Join(extra, ", "))
	}
	return nil
}

// IsError reports whether err is a policy refusal and returns it.
func IsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
