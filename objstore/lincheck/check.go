package lincheck

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Reporter is the part of testing.TB that Check uses; a test of Check itself passes its
// own to see the failure without failing.
type Reporter interface {
	Helper()
	Name() string
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}

// artifactDirer is a Reporter that can keep files after the test (testing.T.ArtifactDir,
// kept with go test -artifacts).
type artifactDirer interface {
	ArtifactDir() string
}

// Summary describes a checked history.
type Summary struct {
	Result porcupine.CheckResult
	// Ops and Ambiguous count the operations checked and those among them of unknown
	// outcome; Keys the partitions.
	Ops, Ambiguous, Keys int
	// Took is how long the check ran.
	Took time.Duration
	// Visualization is the file holding the history's picture, and Explanation a text
	// file with the operations of each key that is not linearizable, written when the
	// check did not find the history linearizable; "" otherwise.
	Visualization, Explanation string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d operations (%d of unknown outcome) on %d keys checked in %v: %s",
		s.Ops, s.Ambiguous, s.Keys, s.Took.Round(time.Millisecond), s.Result)
}

// Check checks ops against Model for at most timeout and logs the summary. A history that
// is not linearizable fails t, with porcupine's picture of it (every key's operations and
// the longest order the search could build) written to an HTML file in t's artifact
// directory (or temporary directory), and the same as text for the keys at fault, both
// named in the failure. A check that runs out of
// time fails t too: it has shown nothing.
func Check(t Reporter, ops []porcupine.Operation, timeout time.Duration) Summary {
	t.Helper()
	s := Summary{Ops: len(ops), Keys: len(partitionByKey(ops))}
	for _, op := range ops {
		if op.Return == math.MaxInt64 {
			s.Ambiguous++
		}
	}
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(Model, ops, timeout)
	s.Result, s.Took = res, time.Since(began)
	t.Logf("linearizability: %v", s)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		dir := t.TempDir()
		if a, ok := t.(artifactDirer); ok {
			dir = a.ArtifactDir()
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		s.Visualization = filepath.Join(dir, "linearizability-"+name+".html")
		if err := porcupine.VisualizePath(Model, info, s.Visualization); err != nil {
			t.Errorf("history not linearizable; writing its visualization: %v", err)
			s.Visualization = ""
			break
		}
		s.Explanation = filepath.Join(dir, "linearizability-"+name+".txt")
		if err := os.WriteFile(s.Explanation, []byte(explain(ops, info, timeout)), 0o644); err != nil {
			t.Errorf("history not linearizable; writing its explanation: %v", err)
		}
		t.Errorf("history not linearizable: %d operations on %d keys; see %s and %s (kept with go test -artifacts)",
			s.Ops, s.Keys, s.Visualization, s.Explanation)
	default:
		t.Errorf("linearizability check did not finish in %v (%s): nothing shown", timeout, res)
	}
	return s
}

// Check logs the run's tally and the operations that got no answer, fails t for each of
// the run's errors and for each tally class in need (such as
// "put if-match ok") the run never produced, since a run that never won a conditional
// write cannot show that conditional writes are right; then it checks the history as
// the function Check does.
func (r Result) Check(t Reporter, timeout time.Duration, need ...string) Summary {
	t.Helper()
	t.Logf("operations: %s", r.TallyString())
	for _, err := range r.NoAnswer {
		t.Logf("no answer: %v", err)
	}
	for _, err := range r.Errors {
		t.Errorf("%v", err)
	}
	for _, what := range need {
		if r.Tally[what] == 0 {
			t.Errorf("no %q in the run: it shows too little", what)
		}
	}
	return Check(t, r.Ops, timeout)
}

// explain renders, for each key whose history is not linearizable on its own, the longest
// legal order the search found and the key's operations in call order with their times
// (? for no return), so that a failure can be read without a browser.
func explain(ops []porcupine.Operation, info porcupine.LinearizationInfo, timeout time.Duration) string {
	var b strings.Builder
	longest := map[string][]porcupine.Operation{}
	for _, part := range info.PartialLinearizationsOperations() {
		for _, lin := range part {
			if len(lin) > 0 {
				k := lin[0].Input.(Input).Key
				if len(lin) > len(longest[k]) {
					longest[k] = lin
				}
			}
		}
	}
	for _, part := range partitionByKey(ops) {
		if porcupine.CheckOperationsTimeout(Model, part, timeout) != porcupine.Illegal {
			continue
		}
		k := part[0].Input.(Input).Key
		fmt.Fprintf(&b, "key %q: %d operations, not linearizable\n", k, len(part))
		fmt.Fprintf(&b, "longest legal order found (%d operations):\n", len(longest[k]))
		for _, op := range longest[k] {
			fmt.Fprintf(&b, "  %s\n", describeOp(op))
		}
		b.WriteString("all operations in call order:\n")
		sorted := slices.Clone(part)
		slices.SortFunc(sorted, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		for _, op := range sorted {
			fmt.Fprintf(&b, "  %s\n", describeOp(op))
		}
	}
	return b.String()
}

// describeOp renders one operation with its client and times.
func describeOp(op porcupine.Operation) string {
	ret := "?"
	if op.Return != math.MaxInt64 {
		ret = strconv.FormatInt(op.Return, 10)
	}
	return fmt.Sprintf("client %d [%d, %s] %s", op.ClientId, op.Call, ret, describe(op.Input.(Input), op.Output.(Output)))
}
