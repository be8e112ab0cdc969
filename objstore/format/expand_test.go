package format

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
		err  bool
	}{
		{[]string{"/d{1...4}"}, []string{"/d1", "/d2", "/d3", "/d4"}, false},
		{[]string{"/d{08...11}"}, []string{"/d08", "/d09", "/d10", "/d11"}, false},
		{[]string{"/n{1...2}/d{1...2}"}, []string{"/n1/d1", "/n1/d2", "/n2/d1", "/n2/d2"}, false},
		{[]string{"/a", "/b{3...3}"}, []string{"/a", "/b3"}, false},
		{[]string{"/d{1..4}"}, []string{"/d{1..4}"}, false}, // two dots: not a range
		{[]string{"/d{4...1}"}, nil, true},
		{[]string{"/d{0...4096}"}, nil, true},
		{[]string{"/d{1...99999999999999999999}"}, nil, true},
		{[]string{"/a{1...100}/b{1...100}"}, nil, true}, // 10,000 drives
	}
	for _, c := range cases {
		got, err := Expand(c.in)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Expand(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestSetSizeAndParity(t *testing.T) {
	for _, c := range []struct{ n, size int }{{1, 1}, {4, 4}, {16, 16}, {18, 9}, {32, 16}, {34, 2}} {
		if got, err := SetSize(c.n); err != nil || got != c.size {
			t.Errorf("SetSize(%d) = %d, %v; want %d", c.n, got, err, c.size)
		}
	}
	for _, n := range []int{0, 17, 19} {
		if _, err := SetSize(n); err == nil {
			t.Errorf("SetSize(%d) succeeded", n)
		}
	}
	for n, want := range map[int]int{1: 0, 2: 1, 4: 2, 6: 3, 16: 4} {
		if got := DefaultParity(n); got != want {
			t.Errorf("DefaultParity(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestGoldenVersion1 reads a record as the version 1 binary wrote it, byte for byte.
func TestGoldenVersion1(t *testing.T) {
	b, err := os.ReadFile("testdata/format-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Format{Version: 1, DeploymentID: "5b1f0c8e2a6d4e7f9a3b1c2d3e4f5a6b", PlacementKey: "00112233445566778899aabbccddeeff",
		DriveID: strings.Repeat("b", 32), Sets: [][]string{{strings.Repeat("a", 32), strings.Repeat("b", 32), strings.Repeat("c", 32), strings.Repeat("d", 32)}}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	if s, i, ok := f.position(f.DriveID); !ok || s != 0 || i != 1 {
		t.Fatalf("position of the drive: %d %d %v", s, i, ok)
	}
}
