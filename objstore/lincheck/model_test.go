package lincheck_test

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/flashstor/flashstor/objstore/lincheck"
)

// reporter is a lincheck.Reporter that keeps the failures instead of failing the test.
type reporter struct {
	t    *testing.T
	errs []string
}

func (r *reporter) Helper()                         {}
func (r *reporter) Name() string                    { return r.t.Name() }
func (r *reporter) TempDir() string                 { return r.t.TempDir() }
func (r *reporter) Logf(format string, args ...any) { r.t.Logf(format, args...) }
func (r *reporter) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// op builds a history entry; ret < 0 makes it of unknown outcome.
func op(client int, call, ret int64, in lincheck.Input, out lincheck.Output) porcupine.Operation {
	if ret < 0 {
		ret, out = math.MaxInt64, lincheck.Output{}
	}
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func put(k string, v lincheck.Value) lincheck.Input {
	return lincheck.Input{Key: k, Kind: lincheck.Put, Value: v}
}
func create(k string, v lincheck.Value) lincheck.Input {
	return lincheck.Input{Key: k, Kind: lincheck.Put, Cond: lincheck.IfAbsent, Value: v}
}
func replace(k string, v, match lincheck.Value) lincheck.Input {
	return lincheck.Input{Key: k, Kind: lincheck.Put, Cond: lincheck.IfMatch, Value: v, Match: match}
}
func get(k string) lincheck.Input { return lincheck.Input{Key: k, Kind: lincheck.Get} }
func del(k string) lincheck.Input { return lincheck.Input{Key: k, Kind: lincheck.Delete} }

var (
	ok       = lincheck.Output{Status: lincheck.OK}
	notFound = lincheck.Output{Status: lincheck.NotFound}
	failed   = lincheck.Output{Status: lincheck.PreconditionFailed}
	unknown  = lincheck.Output{}
)

func read(v lincheck.Value) lincheck.Output { return lincheck.Output{Status: lincheck.OK, Value: v} }

// TestModel checks the model against hand-built histories. Those no store behaving as one
// S3 object per key could produce are the negative control: each must be rejected, with its
// picture written and named; if the model accepted anything, the runs against the store
// would prove nothing. The others are what a correct store may do (a read during a write
// sees either value, an ambiguous write shows or never does, conditional writes win and
// lose as S3 says, a delete of nothing is not an error) and must be accepted.
func TestModel(t *testing.T) {
	cases := []struct {
		name         string
		linearizable bool
		ops          []porcupine.Operation
		// culprit is the key a rejected history's explanation must name; "" for k.
		culprit string
	}{
		{"read of a value after a later overwrite completed", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 20, 30, put("k", 2), ok),
			op(2, 40, 50, get("k"), read(1)),
		}, ""},
		{"a completed write lost", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 20, 30, get("k"), notFound),
		}, ""},
		{"two creations both won", false, []porcupine.Operation{
			op(0, 0, 10, create("k", 1), ok),
			op(1, 5, 15, create("k", 2), ok),
		}, ""},
		{"a creation refused on an absent key", false, []porcupine.Operation{
			op(0, 0, 10, create("k", 1), failed),
		}, ""},
		{"if-match of the current value refused", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(0, 20, 30, replace("k", 2, 1), failed),
		}, ""},
		{"if-match of a stale value won", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 20, 30, put("k", 2), ok),
			op(0, 40, 50, replace("k", 3, 1), ok),
		}, ""},
		{"if-match on an absent key answered 412, not 404", false, []porcupine.Operation{
			op(0, 0, 10, replace("k", 2, 1), failed),
		}, ""},
		{"a delete that did not delete", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(0, 20, 30, del("k"), ok),
			op(1, 40, 50, get("k"), read(1)),
		}, ""},
		{"a read of a value never written", false, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 5, 15, get("k"), read(7)),
		}, ""},
		{"an ambiguous write read back after a newer one", false, []porcupine.Operation{
			op(0, 0, -1, put("k", 1), unknown),
			op(1, 10, 20, put("k", 2), ok),
			op(2, 30, 40, get("k"), read(1)),
			op(2, 50, 60, get("k"), read(2)),
		}, ""},
		{"a stale read on one key among good ones", false, []porcupine.Operation{
			op(0, 0, 10, put("a", 1), ok),
			op(1, 0, 10, put("b", 2), ok),
			op(0, 20, 30, put("a", 3), ok),
			op(1, 40, 50, get("b"), read(2)),
			op(1, 60, 70, get("a"), read(1)),
		}, "a"},
		{"reads during a write see the old value, then the new one", true, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 20, 100, put("k", 2), ok),
			op(2, 30, 40, get("k"), read(1)),
			op(2, 50, 60, get("k"), read(2)),
			op(3, 110, 120, get("k"), read(2)),
		}, ""},
		{"concurrent creations: one wins", true, []porcupine.Operation{
			op(0, 0, 10, create("k", 1), failed),
			op(1, 5, 15, create("k", 2), ok),
			op(2, 20, 30, get("k"), read(2)),
		}, ""},
		{"an ambiguous write shows later", true, []porcupine.Operation{
			op(0, 0, -1, put("k", 1), unknown),
			op(1, 10, 20, get("k"), notFound),
			op(1, 30, 40, get("k"), read(1)),
		}, ""},
		{"an ambiguous write never shows", true, []porcupine.Operation{
			op(0, 0, -1, put("k", 1), unknown),
			op(1, 10, 20, put("k", 2), ok),
			op(1, 30, 40, get("k"), read(2)),
		}, ""},
		{"an ambiguous conditional write that lost", true, []porcupine.Operation{
			op(0, 0, 10, put("k", 1), ok),
			op(1, 20, -1, create("k", 2), unknown),
			op(2, 30, 40, get("k"), read(1)),
		}, ""},
		{"if-match chains and a delete of nothing", true, []porcupine.Operation{
			op(0, 0, 10, replace("k", 1, 9), notFound),
			op(0, 20, 30, create("k", 2), ok),
			op(1, 40, 50, replace("k", 3, 2), ok),
			op(2, 45, 55, replace("k", 4, 2), failed),
			op(0, 60, 70, del("k"), ok),
			op(0, 80, 90, del("k"), notFound),
			op(1, 100, 110, del("k"), ok),
			op(2, 120, 130, get("k"), notFound),
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &reporter{t: t}
			s := lincheck.Check(r, tc.ops, 0)
			if tc.linearizable {
				if s.Result != porcupine.Ok || len(r.errs) != 0 {
					t.Fatalf("check says %s (%q), want %s", s.Result, r.errs, porcupine.Ok)
				}
				return
			}
			if s.Result != porcupine.Illegal {
				t.Fatalf("check says %s, want %s", s.Result, porcupine.Illegal)
			}
			if len(r.errs) != 1 || s.Visualization == "" || !strings.Contains(r.errs[0], s.Visualization) {
				t.Fatalf("failure reported as %q, visualization %q", r.errs, s.Visualization)
			}
			html, err := os.ReadFile(s.Visualization)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(html), "<html") {
				t.Fatalf("%s is not an HTML page", s.Visualization)
			}
			text, err := os.ReadFile(s.Explanation)
			if err != nil {
				t.Fatal(err)
			}
			culprit := cmp.Or(tc.culprit, "k")
			if !strings.HasPrefix(string(text), fmt.Sprintf("key %q:", culprit)) || strings.Count(string(text), "key ") != 1 {
				t.Fatalf("the explanation does not name key %q alone:\n%s", culprit, text)
			}
		})
	}
}

// TestRecorder checks that operations one after another get increasing, non-overlapping
// times, that an unanswered one is open-ended and that a dropped one is gone.
func TestRecorder(t *testing.T) {
	r := lincheck.NewRecorder()
	a := r.Call(0, put("k", 1))
	a.End(ok)
	b := r.Call(0, get("k"))
	b.End(read(1))
	r.Call(1, put("k", 2)).Ambiguous()
	r.Call(2, get("k")).Drop()
	r.Call(3, del("k")) // never answered
	ops := r.Operations()
	if len(ops) != 4 {
		t.Fatalf("%d operations recorded, want 4", len(ops))
	}
	if !(ops[0].Call < ops[0].Return && ops[0].Return < ops[1].Call && ops[1].Call < ops[1].Return) {
		t.Errorf("sequential operations overlap: %+v", ops[:2])
	}
	for _, i := range []int{2, 3} {
		if ops[i].Return != math.MaxInt64 || ops[i].Output != unknown {
			t.Errorf("operation %d: return %d output %+v, want open-ended and unknown", i, ops[i].Return, ops[i].Output)
		}
	}
}

// TestIdentify checks that a body names its value and that a body not wholly one
// value's is refused.
func TestIdentify(t *testing.T) {
	a, b := lincheck.Body(0xa, 1000), lincheck.Body(0xb, 1000)
	if v, err := lincheck.Identify(a); err != nil || v != 0xa {
		t.Fatalf("Identify(Body(a)) = %x, %v", v, err)
	}
	if v, err := lincheck.Identify(lincheck.Body(7, 0)); err != nil || v != 7 {
		t.Fatalf("Identify of the smallest body = %x, %v", v, err)
	}
	spliced := append(append([]byte{}, a[:500]...), b[500:]...)
	oneByte := append([]byte{}, a...)
	oneByte[999] ^= 1
	for name, body := range map[string][]byte{
		"spliced from two writes": spliced,
		"truncated":               a[:999],
		"one byte changed":        oneByte,
		"extended":                append(append([]byte{}, a...), 0),
		"shorter than a header":   a[:10],
	} {
		if _, err := lincheck.Identify(body); err == nil {
			t.Errorf("a body %s was taken as whole", name)
		}
	}
}
