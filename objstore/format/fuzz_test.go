package format

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// FuzzParse: no input panics; whatever parses is a consistent record that survives a round
// trip through the current version unchanged.
func FuzzParse(f *testing.F) {
	s := sample()
	b, _ := Marshal(s)
	f.Add(b)
	f.Add(v1Record(s))
	f.Add([]byte(`{"version":2,"sha256":"","body":{}}`))
	f.Add([]byte(`{"version":1}`))
	if golden, err := os.ReadFile("testdata/format-v1.json"); err == nil {
		f.Add(golden)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Parse(in)
		if err != nil {
			return
		}
		if err := got.check(); err != nil {
			t.Fatalf("parsed an inconsistent record: %v", err)
		}
		out, err := Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parsing a marshalled record: %v", err)
		}
		again.Version = got.Version
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip changed the record: %+v -> %+v", got, again)
		}
	})
}

// FuzzExpand: no argument panics or expands past the bound; an argument without a range
// is itself; every expansion has the argument's text outside the ranges.
func FuzzExpand(f *testing.F) {
	for _, seed := range []string{"/d{1...4}", "/d{01...16}/x{1...2}", "/plain", "{0...0}", "/d{3...1}", "{1...99999999999999999999}", "/a{1..2}", "/d{1...4096}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		out, err := Expand([]string{arg})
		if err != nil {
			return
		}
		if len(out) == 0 || len(out) > maxExpansion {
			t.Fatalf("%q expanded to %d drives", arg, len(out))
		}
		if !ellipsis.MatchString(arg) {
			if len(out) != 1 || out[0] != arg {
				t.Fatalf("%q without a range expanded to %q", arg, out)
			}
			return
		}
		prefix := arg[:ellipsis.FindStringIndex(arg)[0]]
		for _, o := range out {
			if !strings.HasPrefix(o, prefix) {
				t.Fatalf("%q: expansion %q lost the prefix %q", arg, o, prefix)
			}
		}
	})
}
