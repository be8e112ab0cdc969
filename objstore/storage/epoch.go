package storage

import (
	"context"
	"errors"
)

// ErrStaleEpoch is a fenced drive's refusal of a call made under an ownership epoch older
// than the newest it has seen for its erasure set: the lock the caller holds was granted by
// an owner that has since been replaced. Nothing was changed; the operation may be retried
// (it then takes its lock from the new owner). The object core reports it, joined into its
// quorum error, as a 503 SlowDown.
var ErrStaleEpoch = errors.New("stale ownership epoch: the erasure set changed owner")

// Epoch is the ownership epoch of one erasure set under which a lock was granted.
type Epoch struct {
	Set   int
	Epoch uint64
}

type epochsKey struct{}

// WithEpochs returns ctx carrying epochs (at most one per set; a later one replaces an
// earlier one of the same set). The calls made with it are fenced by drives that fence
// (package fence): a drive of set s refuses the call with ErrStaleEpoch when the epoch for s
// is older than the newest it has seen. A context without an epoch for a drive's set is not
// fenced: a one-node deployment never sets one.
func WithEpochs(ctx context.Context, epochs ...Epoch) context.Context {
	if len(epochs) == 0 {
		return ctx
	}
	merged := append([]Epoch(nil), Epochs(ctx)...)
	for _, e := range epochs {
		replaced := false
		for i := range merged {
			if merged[i].Set == e.Set {
				merged[i], replaced = e, true
			}
		}
		if !replaced {
			merged = append(merged, e)
		}
	}
	return context.WithValue(ctx, epochsKey{}, merged)
}

// Epochs returns the epochs ctx carries, nil if none. The caller must not change them.
func Epochs(ctx context.Context) []Epoch {
	e, _ := ctx.Value(epochsKey{}).([]Epoch)
	return e
}

// EpochOf returns the epoch ctx carries for set, and whether it carries one.
func EpochOf(ctx context.Context, set int) (uint64, bool) {
	for _, e := range Epochs(ctx) {
		if e.Set == set {
			return e.Epoch, true
		}
	}
	return 0, false
}
