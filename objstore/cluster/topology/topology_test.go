package topology

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestParseExpandsAndGroups(t *testing.T) {
	top, err := Parse([]string{"http://node{1...4}:9000/data{1...4}"})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Endpoints) != 16 || len(top.Nodes) != 4 {
		t.Fatalf("got %d endpoints on %d nodes", len(top.Endpoints), len(top.Nodes))
	}
	if top.Nodes[2] != "node3:9000" || top.Endpoints[5] != (Endpoint{Node: "node2:9000", Path: "/data2"}) {
		t.Fatalf("nodes %v, endpoint 5 %v", top.Nodes, top.Endpoints[5])
	}
	for i, ds := range top.NodeDrives {
		if len(ds) != 4 || top.Endpoints[ds[0]].Node != top.Nodes[i] {
			t.Fatalf("node %d drives %v", i, ds)
		}
	}
	other, _ := Parse([]string{"http://node{1...4}:9000/data{1...3}"})
	same, _ := Parse([]string{"http://node1:9000/data{1...4}", "http://node{2...4}:9000/data{1...4}"})
	if top.Hash == other.Hash || top.Hash != same.Hash {
		t.Fatal("the hash tells the lists apart by their expansion")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no drives"},
		{[]string{"/data1"}, "is not a URL"},
		{[]string{"http://a:9000/d", "/data1"}, "is not a URL"},
		{[]string{"ftp://a:9000/d"}, "want http or https"},
		{[]string{"http://a:9000/d", "https://b:9000/d"}, "one scheme"},
		{[]string{"http://a/d"}, "want host:port"},
		{[]string{"http://a:0/d"}, "bad port"},
		{[]string{"http://a:65535/d"}, "bad port"},
		{[]string{"http://a:09000/d"}, "bad port"},
		{[]string{"http://a:9000"}, "absolute, clean"},
		{[]string{"http://a:9000/"}, "absolute, clean"},
		{[]string{"http://a:9000/d/../e"}, "absolute, clean"},
		{[]string{"http://a:9000/d/"}, "absolute, clean"},
		{[]string{"http://u@a:9000/d"}, "no user, query"},
		{[]string{"http://a:9000/d?x=1"}, "no user, query"},
		{[]string{"http://a:9000/d#x"}, "no user, query"},
		{[]string{"http://a:9000/d{1...2}", "http://A:9000/d2"}, "given twice"},
		{[]string{"http://a:9000/d{3...1}"}, "bad range"},
	} {
		_, err := Parse(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestPlaceSpansNodes(t *testing.T) {
	for _, tc := range []struct {
		arg          string
		sets, size   int
		parity, most int // most: the most drives of one set on one node
	}{
		{"http://n{1...4}:9000/d{1...4}", 1, 16, 4, 4},
		{"http://n{1...4}:9000/d{1...2}", 1, 8, 4, 2},
		{"http://n{1...3}:9000/d1", 1, 3, 1, 1},
		{"http://n{1...5}:9000/d{1...4}", 2, 10, 4, 2},
		{"http://n{1...8}:9000/d{1...4}", 2, 16, 4, 2},
		{"http://n1:9000/d{1...4}", 1, 4, 2, 4}, // one node: nothing to spread over
	} {
		top, err := Parse([]string{tc.arg})
		if err != nil {
			t.Fatal(err)
		}
		p, err := top.Place(-1)
		if err != nil {
			t.Fatalf("%s: %v", tc.arg, err)
		}
		if len(p.Sets) != tc.sets || len(p.Sets[0]) != tc.size || p.Parity != tc.parity {
			t.Fatalf("%s: %d sets of %d, parity %d", tc.arg, len(p.Sets), len(p.Sets[0]), p.Parity)
		}
		seen := make(map[int]bool)
		for _, set := range p.Sets {
			count := make(map[string]int)
			for _, e := range set {
				if seen[e] {
					t.Fatalf("%s: endpoint %d placed twice", tc.arg, e)
				}
				seen[e] = true
				count[top.Endpoints[e].Node]++
			}
			for _, c := range count {
				if c > tc.most {
					t.Fatalf("%s: a node holds %d drives of one set: %v", tc.arg, c, p.Sets)
				}
			}
		}
		if len(seen) != len(top.Endpoints) || len(p.Order()) != len(top.Endpoints) {
			t.Fatalf("%s: placed %d of %d", tc.arg, len(seen), len(top.Endpoints))
		}
	}
}

func TestPlaceRefusesANodeAboveParity(t *testing.T) {
	top, _ := Parse([]string{"http://n{1...2}:9000/d{1...8}"})
	_, err := top.Place(-1)
	if err == nil || !strings.Contains(err.Error(), "node n1:9000 would hold 8 drives of erasure set 0 (16 drives, parity 4)") {
		t.Fatalf("got %v", err)
	}
	top, _ = Parse([]string{"http://n{1...4}:9000/d{1...4}"})
	if _, err := top.Place(2); err == nil || !strings.Contains(err.Error(), "would hold 4 drives") {
		t.Fatalf("parity 2 over 4 nodes of 4: %v", err)
	}
	top, _ = Parse([]string{"http://n{1...17}:9000/d1"})
	if _, err := top.Place(-1); err == nil || !strings.Contains(err.Error(), "cannot be split") {
		t.Fatalf("17 drives: %v", err)
	}
	top, _ = Parse([]string{"http://n{1...4}:9000/d1"})
	if _, err := top.Place(3); err == nil || !strings.Contains(err.Error(), "more than half") {
		t.Fatalf("parity 3 of 4: %v", err)
	}
}

func TestSelf(t *testing.T) {
	top, _ := Parse([]string{"http://127.0.0.{1...4}:9000/d{1...2}", "http://host5:9000/d1"})
	lookup := func(h string) ([]net.IP, error) {
		if h == "host5" {
			return []net.IP{net.ParseIP("10.0.0.5")}, nil
		}
		return nil, errors.New("no such host")
	}
	local := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.5")}
	for _, tc := range []struct {
		address, self string
		member        bool
		err           string
	}{
		{"127.0.0.3:9000", "127.0.0.3:9000", true, ""},
		{"10.0.0.5:9000", "host5:9000", true, ""},
		{":9000", "", false, "all resolve to this machine"},
		{"127.0.0.9:9000", "127.0.0.9:9000", false, ""},
		{"127.0.0.3:9100", "127.0.0.3:9100", false, ""},
		{"nohost:9000", "", false, "no such host"},
		{"9000", "", false, "want host:port"},
	} {
		self, member, err := top.Self(tc.address, local, lookup)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Self(%q) = %v, want an error saying %q", tc.address, err, tc.err)
			}
			continue
		}
		if err != nil || self != tc.self || member != tc.member {
			t.Errorf("Self(%q) = %q, %v, %v; want %q, %v", tc.address, self, member, err, tc.self, tc.member)
		}
	}
	if got := top.Local("127.0.0.2:9000"); len(got) != 2 || top.Endpoints[got[1]].Path != "/d2" {
		t.Fatalf("Local = %v", got)
	}
}

// FuzzParse: any argument list parses or is refused, never panics; what parses is
// consistent (every endpoint on a listed node, the node lists partition the endpoints)
// and its placement, when there is one, places each drive once.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"http://node{1...4}:9000/data{1...4}", "https://a:1/d\nhttp://b:2/e", "/data", "http://[::1]:9000/d{01...16}", "http://a:9000/d{1...2}{1...2}", "http://%zz:9/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		top, err := Parse(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		n := 0
		for i, ds := range top.NodeDrives {
			for _, e := range ds {
				if top.Endpoints[e].Node != top.Nodes[i] {
					t.Fatalf("endpoint %d listed under node %s", e, top.Nodes[i])
				}
				n++
			}
		}
		if n != len(top.Endpoints) {
			t.Fatalf("%d endpoints, %d under nodes", len(top.Endpoints), n)
		}
		again, err := Parse(func() []string {
			var out []string
			for _, e := range top.Endpoints {
				out = append(out, e.URL(top.Scheme))
			}
			return out
		}())
		if err != nil || again.Hash != top.Hash {
			t.Fatalf("the expanded list does not parse to the same topology: %v", err)
		}
		p, err := top.Place(-1)
		if err != nil {
			return
		}
		if len(p.Order()) != len(top.Endpoints) {
			t.Fatalf("placed %d of %d", len(p.Order()), len(top.Endpoints))
		}
	})
}
