package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Error is a policy document refused by Parse; Message says what is wrong, in the words
// S3 and IAM use.
type Error struct {
	Message string
}

func (e *Error) Error() string { return "malformed policy: " + e.Message }

func malformed(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Parse parses a policy document of the given kind, checking it against the limit
// maxSize (MaxManagedSize, MaxInlineSize or MaxBucketSize; 0 for none). Every failure is
// an *Error.
func Parse(doc []byte, kind Kind, maxSize int) (*Policy, error) {
	if maxSize > 0 && policySize(doc, kind) > maxSize {
		return nil, malformed("Policy document exceeds the maximum allowed size of %d characters", maxSize)
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, malformed("Policies must be valid JSON and the first byte must be '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, malformed("Policies must be valid JSON: %v", jsonErr(err))
	}
	if _, err := dec.Token(); err == nil {
		return nil, malformed("Policies must be valid JSON: data after the document")
	}
	obj, _ := top.(map[string]any)
	p := &Policy{kind: kind}
	var stmts any
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "Version":
			s, ok := v.(string)
			if !ok || (s != Version2012 && s != Version2008) {
				return nil, malformed("The policy must contain a valid version string")
			}
			p.Version = s
		case "Id":
			s, ok := v.(string)
			if !ok {
				return nil, malformed("Id must be a string")
			}
			p.ID = s
		case "Statement":
			stmts = v
		default:
			return nil, malformed("Unknown field %s", k)
		}
	}
	if p.Version == "" {
		p.Version = Version2008
	}
	if stmts == nil {
		return nil, malformed("Missing required field Statement")
	}
	list, isList := stmts.([]any)
	if !isList {
		list = []any{stmts}
	}
	if len(list) == 0 {
		return nil, malformed("Could not parse the policy: Statement is empty!")
	}
	sids := map[string]bool{}
	for _, raw := range list {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, malformed("Statement must be an object")
		}
		st, err := parseStatement(m, p)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed("Statement IDs (SID) in a single policy must be unique")
			}
			sids[st.Sid] = true
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// policySize is the size AWS checks: identity policies are measured without whitespace,
// bucket policies as sent.
func policySize(doc []byte, kind Kind) int {
	if kind == Bucket {
		return len(doc)
	}
	n := 0
	for _, r := range string(doc) {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func parseStatement(m map[string]any, p *Policy) (Statement, error) {
	var st Statement
	var haveAction, haveResource, havePrincipal bool
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				return st, malformed("Sid must be a string")
			}
			st.Sid = s
		case "Effect":
			switch v {
			case "Allow":
				st.Effect = Allow
			case "Deny":
				st.Effect = Deny
			default:
				return st, malformed("Invalid effect: %v", v)
			}
		case "Principal", "NotPrincipal":
			if p.kind == Identity {
				return st, malformed("Policy document should not specify a principal")
			}
			if havePrincipal {
				return st, malformed("Statement may have Principal or NotPrincipal, not both")
			}
			havePrincipal = true
			st.NotPrincipal = k == "NotPrincipal"
			st.Principals, err = parsePrincipal(v)
		case "Action", "NotAction":
			if haveAction {
				return st, malformed("Statement may have Action or NotAction, not both")
			}
			haveAction = true
			st.NotAction = k == "NotAction"
			st.Actions, err = parseActions(v)
		case "Resource", "NotResource":
			if haveResource {
				return st, malformed("Statement may have Resource or NotResource, not both")
			}
			haveResource = true
			st.NotResource = k == "NotResource"
			st.Resources, err = parseResources(v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			return st, malformed("Unknown field %s", k)
		}
		if err != nil {
			return st, err
		}
	}
	switch {
	case st.Effect == 0:
		return st, malformed("Missing required field Effect")
	case !haveAction:
		return st, malformed("Missing required field Action")
	case !haveResource && p.kind != Trust:
		return st, malformed("Missing required field Resource")
	case p.kind != Identity && !havePrincipal:
		return st, malformed("Missing required field Principal")
	}
	if p.Version == Version2012 {
		for _, r := range st.Resources {
			st.vars = st.vars || strings.Contains(r, "${")
		}
		for _, c := range st.Conditions {
			for _, v := range c.Values {
				st.vars = st.vars || strings.Contains(v, "${")
			}
		}
	}
	return st, nil
}

// stringList reads a string or a non-empty array of strings.
func stringList(v any, what string) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, malformed("%s must not be empty", what)
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, malformed("%s must be a string or an array of strings", what)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, malformed("%s must be a string or an array of strings", what)
}

func parseActions(v any) ([]string, error) {
	list, err := stringList(v, "Action")
	if err != nil {
		return nil, err
	}
	for i, a := range list {
		if a != "*" {
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" || !validService(svc) {
				return nil, malformed("Policy has invalid action: %q", a)
			}
		}
		list[i] = strings.ToLower(a)
	}
	return list, nil
}

func validService(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func parseResources(v any) ([]string, error) {
	list, err := stringList(v, "Resource")
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r == "*" {
			continue
		}
		parts := strings.SplitN(r, ":", 6)
		if len(parts) < 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
			return nil, malformed("Policy has invalid resource: %q is not an ARN", r)
		}
	}
	return list, nil
}

// parsePrincipal reads "*" or {"AWS": ..., "CanonicalUser": ..., "Service": ...} into
// principal strings: "*", an ARN, or "canonical:<id>" / "service:<name>".
func parsePrincipal(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, malformed("Invalid principal in policy: %q", s)
		}
		return []string{"*"}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, malformed("Invalid principal in policy")
	}
	var out []string
	for _, k := range sortedKeys(m) {
		list, err := stringList(m[k], "Principal")
		if err != nil {
			return nil, malformed("Invalid principal in policy")
		}
		for _, s := range list {
			switch k {
			case "AWS":
				arn, ok := normalizeAWSPrincipal(s)
				if !ok {
					return nil, malformed("Invalid principal in policy: %q", s)
				}
				out = append(out, arn)
			case "CanonicalUser":
				out = append(out, "canonical:"+s)
			case "Service":
				out = append(out, "service:"+s)
			case "Federated":
				out = append(out, "federated:"+s)
			default:
				return nil, malformed("Invalid principal in policy: unknown principal type %s", k)
			}
		}
	}
	return out, nil
}

// normalizeAWSPrincipal turns an account id into its root ARN and checks an ARN's form.
func normalizeAWSPrincipal(s string) (string, bool) {
	if s == "*" {
		return s, true
	}
	if len(s) == 12 && strings.Trim(s, "0123456789") == "" {
		return "arn:aws:iam::" + s + ":root", true
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") || parts[5] == "" {
		return "", false
	}
	return s, true
}

// Op is a condition operator's base: the comparison without its set qualifier and
// IfExists suffix.
type Op uint8

// The condition operators.
const (
	opInvalid Op = iota
	StringEquals
	StringNotEquals
	StringEqualsIgnoreCase
	StringNotEqualsIgnoreCase
	StringLike
	StringNotLike
	NumericEquals
	NumericNotEquals
	NumericLessThan
	NumericLessThanEquals
	NumericGreaterThan
	NumericGreaterThanEquals
	DateEquals
	DateNotEquals
	DateLessThan
	DateLessThanEquals
	DateGreaterThan
	DateGreaterThanEquals
	Bool
	IPAddress
	NotIPAddress
	ArnEquals
	ArnNotEquals
	ArnLike
	ArnNotLike
	Null
)

var opNames = map[string]Op{
	"StringEquals": StringEquals, "StringNotEquals": StringNotEquals,
	"StringEqualsIgnoreCase": StringEqualsIgnoreCase, "StringNotEqualsIgnoreCase": StringNotEqualsIgnoreCase,
	"StringLike": StringLike, "StringNotLike": StringNotLike,
	"NumericEquals": NumericEquals, "NumericNotEquals": NumericNotEquals,
	"NumericLessThan": NumericLessThan, "NumericLessThanEquals": NumericLessThanEquals,
	"NumericGreaterThan": NumericGreaterThan, "NumericGreaterThanEquals": NumericGreaterThanEquals,
	"DateEquals": DateEquals, "DateNotEquals": DateNotEquals,
	"DateLessThan": DateLessThan, "DateLessThanEquals": DateLessThanEquals,
	"DateGreaterThan": DateGreaterThan, "DateGreaterThanEquals": DateGreaterThanEquals,
	"Bool": Bool, "IpAddress": IPAddress, "NotIpAddress": NotIPAddress,
	"ArnEquals": ArnEquals, "ArnNotEquals": ArnNotEquals, "ArnLike": ArnLike, "ArnNotLike": ArnNotLike,
	"Null": Null,
}

// negated reports whether the operator is a negated matching operator: true when the
// key is missing, and its values combine as NOR.
func (o Op) negated() bool {
	switch o {
	case StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike, NumericNotEquals, DateNotEquals, NotIPAddress, ArnNotEquals, ArnNotLike:
		return true
	}
	return false
}

// SetOp is a condition's set qualifier.
type SetOp uint8

const (
	// Single compares a single-valued key.
	Single SetOp = iota
	// ForAnyValue holds when any of the request's values matches.
	ForAnyValue
	// ForAllValues holds when every one of the request's values matches (and when the key
	// has none).
	ForAllValues
)

// Condition is one key of one operator of a Condition block.
type Condition struct {
	Op       Op
	Set      SetOp
	IfExists bool
	// Key is the condition key, lower case.
	Key    string
	Values []string
	// nums, times and nets are the parsed Values of numeric, date and IP operators.
	nums  []float64
	times []time.Time
	nets  []netip.Prefix
}

func parseConditions(v any) ([]Condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("Condition must be an object")
	}
	var out []Condition
	for _, name := range sortedKeys(m) {
		base := name
		var set SetOp
		if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
			base, set = rest, ForAnyValue
		} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
			base, set = rest, ForAllValues
		}
		base, ifExists := strings.CutSuffix(base, "IfExists")
		op := opNames[base]
		if op == opInvalid || (op == Null && (ifExists || set != Single)) {
			return nil, malformed("Invalid Condition type : %s", name)
		}
		keys, ok := m[name].(map[string]any)
		if !ok || len(keys) == 0 {
			return nil, malformed("Condition %s must map condition keys to values", name)
		}
		for _, key := range sortedKeys(keys) {
			if !validConditionKey(key) {
				return nil, malformed("Policy has an invalid condition key: %q", key)
			}
			vals, err := conditionValues(keys[key])
			if err != nil {
				return nil, err
			}
			c := Condition{Op: op, Set: set, IfExists: ifExists, Key: strings.ToLower(key), Values: vals}
			if err := c.compile(name); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// validConditionKey checks the form "prefix:name" AWS requires.
func validConditionKey(k string) bool {
	p, n, ok := strings.Cut(k, ":")
	return ok && p != "" && n != "" && validService(p) && len(k) <= 256
}

// conditionValues reads a condition's values: strings, numbers and booleans, alone or in
// an array.
func conditionValues(v any) ([]string, error) {
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	if len(list) == 0 {
		return nil, malformed("Condition values must not be empty")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case json.Number:
			out = append(out, e.String())
		case bool:
			if e {
				out = append(out, "true")
			} else {
				out = append(out, "false")
			}
		default:
			return nil, malformed("Condition values must be strings, numbers or booleans")
		}
	}
	return out, nil
}

// compile parses the values of numeric, date, IP, Bool and Null conditions once.
func (c *Condition) compile(name string) error {
	for _, v := range c.Values {
		switch {
		case c.Op >= NumericEquals && c.Op <= NumericGreaterThanEquals:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return malformed("Invalid numeric value %q for condition %s", v, name)
			}
			c.nums = append(c.nums, f)
		case c.Op >= DateEquals && c.Op <= DateGreaterThanEquals:
			t, ok := parseDate(v)
			if !ok {
				return malformed("Invalid date value %q for condition %s", v, name)
			}
			c.times = append(c.times, t)
		case c.Op == IPAddress || c.Op == NotIPAddress:
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					return malformed("Invalid IP address or CIDR %q for condition %s", v, name)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.nets = append(c.nets, p.Masked())
		case c.Op == Bool || c.Op == Null:
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return malformed("Invalid boolean value %q for condition %s", v, name)
			}
		}
	}
	return nil
}

// parseDate reads the date forms AWS takes: ISO 8601 (with or without time) or seconds
// since the epoch.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}
