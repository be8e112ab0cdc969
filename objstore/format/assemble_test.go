package format

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// drives opens n local drives in a temporary directory.
func drives(t *testing.T, n int) ([]storage.Drive, []string) {
	t.Helper()
	dir := t.TempDir()
	var ds []storage.Drive
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprint("d", i))
		d, err := local.Open(p, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ds, paths = append(ds, d), append(paths, p)
	}
	return ds, paths
}

func recordPath(drive string) string { return filepath.Join(drive, storage.SysVolume, "format.json") }

// positions maps each drive's name to its (set, index) in l.
func positions(l *Layout) map[string][2]int {
	m := make(map[string][2]int)
	for s, ds := range l.Sets {
		for i, d := range ds {
			m[d.String()] = [2]int{s, i}
		}
	}
	return m
}

func assemble(t *testing.T, ds []storage.Drive) *Layout {
	t.Helper()
	l, err := Assemble(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAssembleNewAndAgain(t *testing.T) {
	ds, _ := drives(t, 8)
	first := assemble(t, ds)
	if len(first.Sets) != 1 || len(first.Sets[0]) != 8 || len(first.LeftOut) != 0 || len(first.Fresh) != 0 {
		t.Fatalf("new deployment: %+v", first)
	}
	// Reversed order: every drive goes back to its position; nothing is rewritten.
	rev := make([]storage.Drive, len(ds))
	for i, d := range ds {
		rev[len(ds)-1-i] = d
	}
	again := assemble(t, rev)
	if again.DeploymentID != first.DeploymentID || again.PlacementKey != first.PlacementKey {
		t.Fatal("a second start read another deployment")
	}
	if fmt.Sprint(positions(again)) != fmt.Sprint(positions(first)) {
		t.Fatalf("positions moved: %v, then %v", positions(first), positions(again))
	}
}

// TestAssembleLeavesOut damages one drive's record in each way: the deployment assembles
// from the others, the drive keeps its position and is reported with its reason.
func TestAssembleLeavesOut(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   Reason
	}{
		{"flipped bytes", func(t *testing.T, p string) { flipMiddle(t, recordPath(p)) }, ReasonCorrupt},
		{"truncated", func(t *testing.T, p string) { truncateHalf(t, recordPath(p)) }, ReasonCorrupt},
		{"unknown version", func(t *testing.T, p string) { rewriteVersion(t, recordPath(p), 9) }, ReasonUnknownVersion},
		{"record is a directory", func(t *testing.T, p string) {
			os.Remove(recordPath(p))
			os.Mkdir(recordPath(p), 0o755)
		}, ReasonReadFailed},
		{"outvoted version 1 record", func(t *testing.T, p string) {
			b, _ := os.ReadFile(recordPath(p))
			f, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			f.PlacementKey = newID()
			os.WriteFile(recordPath(p), v1Record(f), 0o644)
		}, ReasonDisagrees},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, paths := drives(t, 4)
			first := assemble(t, ds)
			c.damage(t, paths[2])
			l := assemble(t, ds)
			if len(l.LeftOut) != 1 {
				t.Fatalf("left out: %+v", l.LeftOut)
			}
			lo := l.LeftOut[0]
			if lo.Drive != ds[2] || lo.Reason != c.want || lo.Err == nil {
				t.Fatalf("left out %s for %v (%v), want %s for %v", lo.Drive, lo.Reason, lo.Err, ds[2], c.want)
			}
			if fmt.Sprint(positions(l)) != fmt.Sprint(positions(first)) || l.DeploymentID != first.DeploymentID {
				t.Fatalf("positions moved: %v, then %v", positions(first), positions(l))
			}
		})
	}
}

// TestAssembleShuffledDamaged: a drive whose record is damaged but still shows its drive
// id goes back to its own position even when the drives are given in another order.
func TestAssembleShuffledDamaged(t *testing.T) {
	ds, paths := drives(t, 4)
	first := assemble(t, ds)
	b, _ := os.ReadFile(recordPath(paths[1]))
	i := strings.Index(string(b), `"sets"`)
	copy(b[i+10:], "################")
	os.WriteFile(recordPath(paths[1]), b, 0o644)
	os.RemoveAll(recordPath(paths[3]))
	shuffled := []storage.Drive{ds[3], ds[1], ds[0], ds[2]}
	l := assemble(t, shuffled)
	if fmt.Sprint(positions(l)) != fmt.Sprint(positions(first)) {
		t.Fatalf("positions moved: %v, then %v", positions(first), positions(l))
	}
	if len(l.LeftOut) != 1 || l.LeftOut[0].Drive != ds[1] || len(l.Fresh) != 1 {
		t.Fatalf("left out %+v, fresh %v", l.LeftOut, l.Fresh)
	}
}

func TestAssembleRefuses(t *testing.T) {
	t.Run("foreign drive", func(t *testing.T) {
		a, _ := drives(t, 4)
		b, _ := drives(t, 4)
		assemble(t, a)
		assemble(t, b)
		_, err := Assemble(context.Background(), append(a[:3:3], b[0]))
		if err == nil || !strings.Contains(err.Error(), "another deployment") {
			t.Fatalf("foreign drive: %v", err)
		}
	})
	t.Run("tie", func(t *testing.T) {
		ds, paths := drives(t, 4)
		assemble(t, ds)
		for _, p := range paths[2:] { // two drives agree on another placement key
			b, _ := os.ReadFile(recordPath(p))
			f, _ := Parse(b)
			f.PlacementKey = strings.Repeat("ab", 16)
			b, _ = Marshal(f)
			os.WriteFile(recordPath(p), b, 0o644)
		}
		if _, err := Assemble(context.Background(), ds); err == nil || !strings.Contains(err.Error(), "refusing to guess") {
			t.Fatalf("two against two: %v", err)
		}
	})
	t.Run("nothing readable", func(t *testing.T) {
		ds, paths := drives(t, 4)
		assemble(t, ds)
		flipMiddle(t, recordPath(paths[0]))
		for _, p := range paths[1:] {
			os.Remove(recordPath(p))
		}
		_, err := Assemble(context.Background(), ds)
		if err == nil || !strings.Contains(err.Error(), "refusing to format a new deployment") {
			t.Fatalf("no usable record: %v", err)
		}
		if b, _ := os.ReadFile(recordPath(paths[1])); b != nil {
			t.Fatal("an unformatted drive was formatted")
		}
	})
}

// TestAssembleMigrates: version 1 records are rewritten as version 2, content unchanged.
func TestAssembleMigrates(t *testing.T) {
	ds, paths := drives(t, 4)
	first := assemble(t, ds)
	for _, p := range paths {
		b, _ := os.ReadFile(recordPath(p))
		f, _ := Parse(b)
		os.WriteFile(recordPath(p), v1Record(f), 0o644)
	}
	l := assemble(t, ds)
	if len(l.Migrated) != 4 {
		t.Fatalf("migrated %v", l.Migrated)
	}
	for _, p := range paths {
		b, _ := os.ReadFile(recordPath(p))
		f, err := Parse(b)
		if err != nil || f.Version != Version || f.agreement() != first.Format.agreement() {
			t.Fatalf("%s after migration: %+v, %v", p, f, err)
		}
	}
	if l = assemble(t, ds); len(l.Migrated) != 0 {
		t.Fatalf("migrated again: %v", l.Migrated)
	}
}

// TestRecover: a damaged record is moved aside and replaced by the position's; a good one
// is kept; another deployment's is never touched.
func TestRecover(t *testing.T) {
	ds, paths := drives(t, 4)
	assemble(t, ds)
	flipMiddle(t, recordPath(paths[1]))
	damaged, _ := os.ReadFile(recordPath(paths[1]))
	l := assemble(t, ds)
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	rec, err := l.Recover(context.Background(), 0, 1, ds[1], now)
	if err != nil || !rec.Formatted || rec.MovedTo == "" {
		t.Fatalf("Recover: %+v, %v", rec, err)
	}
	moved, err := os.ReadFile(filepath.Join(paths[1], rec.MovedTo))
	if err != nil || string(moved) != string(damaged) {
		t.Fatalf("the damaged record was not kept at %s: %v", rec.MovedTo, err)
	}
	if !strings.Contains(rec.MovedTo, "20261204T180000") {
		t.Fatalf("quarantine folder %s is not dated", rec.MovedTo)
	}
	if l2 := assemble(t, ds); len(l2.LeftOut) != 0 {
		t.Fatalf("still left out after Recover: %+v", l2.LeftOut)
	}
	if rec, err := l.Recover(context.Background(), 0, 1, ds[1], now); err != nil || rec.Formatted {
		t.Fatalf("Recover of a good drive: %+v, %v", rec, err)
	}
	if _, err := l.Recover(context.Background(), 0, 2, ds[1], now); !errors.Is(err, ErrWrongPosition) {
		t.Fatalf("Recover for another position: %v", err)
	}
	other, _ := drives(t, 1)
	assemble(t, other)
	before, _ := other[0].ReadFormat(context.Background())
	if _, err := l.Recover(context.Background(), 0, 1, other[0], now); !errors.Is(err, ErrForeign) {
		t.Fatalf("Recover of another deployment's drive: %v", err)
	}
	if after, _ := other[0].ReadFormat(context.Background()); string(after) != string(before) {
		t.Fatal("another deployment's record was overwritten")
	}
}

func flipMiddle(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b)/2 - 8; i < len(b)/2+8; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncateHalf(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func rewriteVersion(t *testing.T, p string, v int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), fmt.Sprintf(`"version": %d`, Version), fmt.Sprintf(`"version": %d`, v), 1))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
