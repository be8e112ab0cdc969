package layering

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/flashstor/flashstor"

// layer is the top-level directory a package lives under ("s3frontend", "objstore", ...).
func layer(pkg string) string {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return "" // the standard library or a dependency: no rule applies
	}
	top, _, _ := strings.Cut(rel, "/")
	return top
}

// forbidden maps a layer to the layers it must never import (DESIGN.md, "Dependencies point one
// way"). iam sits beside the S3 face (it imports objstore), so the layers below it must not
// import it either.
var forbidden = map[string][]string{
	"s3frontend": {"fusefs", "cmd"},
	"fusefs":     {"s3frontend", "iam", "cmd"},
	"iam":        {"s3frontend", "fusefs", "cmd"},
	"objstore":   {"s3frontend", "fusefs", "iam", "cmd"},
	"erasure":    {"objstore", "s3frontend", "fusefs", "iam", "cmd"},
	"internal":   {"objstore", "erasure", "s3frontend", "fusefs", "iam", "cmd"},
}

// exceptions are edges that break a rule today, each with the reason it is tolerated. A new
// edge of the same kind fails the test; removing the cause should remove the line (the test
// says so when an exception is no longer used).
var exceptions = map[string]string{
	// The collector names *health.Drive's Stats type; moving health.Stats below objstore (or
	// having cmd adapt it) removes this.
	"internal/metrics/collect -> objstore/storage/health": "collector reads health.Stats",
	// The collector's tests build real local, faulty and health drives to observe.
	"internal/metrics/collect -> objstore/storage":        "collector test builds drives",
	"internal/metrics/collect -> objstore/storage/local":  "collector test builds drives",
	"internal/metrics/collect -> objstore/storage/faulty": "collector test builds drives",
}

type edge struct{ from, to string }

func (e edge) String() string {
	return strings.TrimPrefix(e.from, module+"/") + " -> " + strings.TrimPrefix(e.to, module+"/")
}

// violations returns the edges that break a rule and are not excepted, and the exceptions that
// no edge used.
func violations(edges []edge, except map[string]string) (bad []string, unused []string) {
	used := map[string]bool{}
	for _, e := range edges {
		from, to := layer(e.from), layer(e.to)
		if from == "" || to == "" || from == to {
			continue
		}
		if !slices.Contains(forbidden[from], to) {
			continue
		}
		if _, ok := except[e.String()]; ok {
			used[e.String()] = true
			continue
		}
		bad = append(bad, e.String())
	}
	for k := range except {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	slices.Sort(bad)
	bad = slices.Compact(bad)
	slices.Sort(unused)
	return bad, unused
}

// moduleEdges lists every import of every package of the module, test imports included.
func moduleEdges(t *testing.T) []edge {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-e", "-f",
		`{{.ImportPath}}|{{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var edges []edge
	for line := range strings.Lines(string(out)) {
		from, imports, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok {
			t.Fatalf("go list: unexpected line %q", line)
		}
		for _, to := range strings.Fields(imports) {
			edges = append(edges, edge{from, to})
		}
	}
	if len(edges) < 100 {
		t.Fatalf("go list gave %d module imports; expected the whole module", len(edges))
	}
	return edges
}

func TestImportRules(t *testing.T) {
	bad, unused := violations(moduleEdges(t), exceptions)
	for _, b := range bad {
		t.Errorf("import breaks DESIGN.md's layering: %s", b)
	}
	for _, u := range unused {
		t.Errorf("exception no longer needed, remove it from exceptions: %s", u)
	}
}

// TestViolationsDetected shows the checker itself fails on each kind of broken rule.
func TestViolationsDetected(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	for _, c := range []struct {
		from, to string
		bad      bool
	}{
		{"s3frontend", "fusefs", true},
		{"fusefs/node", "s3frontend/sigv4", true},
		{"objstore/pool", "s3frontend", true},
		{"objstore", "cmd/flashstor", true},
		{"erasure", "objstore/storage", true},
		{"internal/httpserver", "s3frontend/s3err", true},
		{"internal/audit", "objstore", true},
		{"s3frontend", "objstore", false},
		{"s3frontend", "internal/httpserver", false},
		{"objstore/erasureset", "erasure", false},
		{"internal/httpserver", "internal/arena", false},
		{"internal/httpserver", "golang.org/x/sys/unix", false},
	} {
		bad, _ := violations([]edge{{m(c.from), m(c.to)}}, nil)
		if got := len(bad) > 0; got != c.bad {
			t.Errorf("%s -> %s: violation %v, want %v", c.from, c.to, got, c.bad)
		}
	}
	// An exception silences exactly its edge.
	e := edge{m("internal/audit"), m("objstore")}
	if bad, _ := violations([]edge{e}, map[string]string{e.String(): "test"}); len(bad) != 0 {
		t.Errorf("excepted edge reported: %v", bad)
	}
	if _, unused := violations(nil, map[string]string{"a -> b": "test"}); fmt.Sprint(unused) != "[a -> b]" {
		t.Errorf("unused exception not reported: %v", unused)
	}
}
