package erasureset

import (
	"errors"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// TestReduceErr checks the error a set reports below quorum: the quorum error wrapped, the
// drives' own errors named, and no "%!" of a nil wrapped error when every drive that did
// not succeed was only skipped.
func TestReduceErr(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		errs []error
		want error
		has  string
	}{
		{"all skipped or ok", []error{nil, errSkipped, errSkipped, errSkipped}, objstore.ErrWriteQuorum, "1 of 4 drives took part"},
		{"every drive skipped", []error{errSkipped, errSkipped}, objstore.ErrReadQuorum, "0 of 2 drives took part"},
		{"a drive failed", []error{nil, boom, errSkipped, errSkipped}, objstore.ErrWriteQuorum, "boom"},
		{"drives full", []error{storage.ErrDriveFull, storage.ErrDriveFull, nil, nil}, objstore.ErrStorageFull, "full"},
	} {
		t.Run(c.name, func(t *testing.T) {
			quorum := objstore.ErrWriteQuorum
			if c.want == objstore.ErrReadQuorum {
				quorum = objstore.ErrReadQuorum
			}
			err := reduceErr(c.errs, quorum)
			if !errors.Is(err, c.want) {
				t.Fatalf("reduceErr = %v, want it to wrap %v", err, c.want)
			}
			if msg := err.Error(); strings.Contains(msg, "%!") || !strings.Contains(msg, c.has) {
				t.Fatalf("reduceErr says %q, want it to contain %q and no %%!", msg, c.has)
			}
		})
	}
}

// TestPickSplitVersions: every drive answers, but two versions share the drives (a
// rename cut halfway onto an older object leaves this at the destination), none on k. The
// error is ErrReadQuorum and says so, with no "%!" of a nil wrapped error.
func TestPickSplitVersions(t *testing.T) {
	a := &meta.Object{VersionID: [16]byte{1}, Erasure: meta.Erasure{DataShards: 3, ParityShards: 1}}
	b := &meta.Object{VersionID: [16]byte{2}, Erasure: meta.Erasure{DataShards: 3, ParityShards: 1}}
	v := &version{
		errs:    make([]error, 4),
		decoded: []*meta.Object{a, a, b, b},
		holds:   make([]bool, 4),
	}
	err := v.pick(3, "bkt", "key")
	if !errors.Is(err, objstore.ErrReadQuorum) {
		t.Fatalf("pick = %v, want ErrReadQuorum", err)
	}
	if msg := err.Error(); strings.Contains(msg, "%!") || !strings.Contains(msg, "2 versions on 4 drives, none on 3") {
		t.Fatalf("pick says %q", msg)
	}
}
