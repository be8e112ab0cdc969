package deploy

import (
	"context"
	"errors"
	"time"

	"github.com/flashstor/flashstor/objstore/format"
)

// Recovered is a left-out drive that RecoverLeftOut brought back.
type Recovered struct {
	Drive      string
	Set, Index int
	format.Recovery
}

// StillOut is a left-out drive that RecoverLeftOut could not bring back, and why.
type StillOut struct {
	Drive      string
	Set, Index int
	Reason     format.Reason
	Err        error
}

// RecoverLeftOut tries to bring back every drive left out of the start: it opens the
// drives that could not be opened, and has format.Layout.Recover make each fit for its
// position (a damaged record is moved aside, never deleted; another deployment's is never
// touched). A drive brought back serves at once, and its set needs a full, deep heal: the
// caller runs it. It returns the drives brought back and those still out.
func (dep *Deployment) RecoverLeftOut(ctx context.Context) ([]Recovered, []StillOut) {
	dep.recovering.Lock()
	defer dep.recovering.Unlock()
	var back []Recovered
	var out []StillOut
	for _, lo := range dep.positions {
		st := lo.state.Load()
		if !st.out {
			continue
		}
		rec, reason, err := dep.recoverOne(ctx, lo, st)
		if err != nil {
			if reason != st.reason || err.Error() != st.err.Error() {
				dep.log.Warn("left-out drive still cannot be used", "drive", lo.path, "set", lo.set, "position", lo.index,
					"reason", reason.String(), "err", err)
			}
			cur := *lo.state.Load()
			cur.reason, cur.err = reason, err
			lo.store(cur)
			out = append(out, StillOut{Drive: lo.path, Set: lo.set, Index: lo.index, Reason: reason, Err: err})
			continue
		}
		cur := *lo.state.Load()
		cur.out, cur.err = false, nil
		lo.store(cur)
		dep.log.Warn("left-out drive brought back: it serves again and its set is healed in full",
			"drive", lo.path, "set", lo.set, "position", lo.index, "formatted", rec.Formatted, "damaged_record_moved_to", rec.MovedTo)
		back = append(back, Recovered{Drive: lo.path, Set: lo.set, Index: lo.index, Recovery: rec})
	}
	return back, out
}

// LeftOut returns the drives left out of the start that are still out, and why.
func (dep *Deployment) LeftOut() []StillOut {
	var out []StillOut
	for _, lo := range dep.positions {
		if st := lo.state.Load(); st.out {
			out = append(out, StillOut{Drive: lo.path, Set: lo.set, Index: lo.index, Reason: st.reason, Err: st.err})
		}
	}
	return out
}

// recoverOne opens a left-out drive if it is not open yet and makes it fit for its
// position; on failure it says why it stays out.
func (dep *Deployment) recoverOne(ctx context.Context, lo *position, st *slotState) (format.Recovery, format.Reason, error) {
	// A drive root that is gone (a disk unmounted while running) is never created again.
	// (An opener of the configuration's checks its own drives.)
	if err := checkExists(lo.path); dep.cfg.OpenDrive == nil && err != nil {
		return format.Recovery{}, format.ReasonReadFailed, err
	}
	if st.inner == nil {
		hd, err := dep.openHealth(lo.path)
		if err != nil {
			return format.Recovery{}, format.ReasonReadFailed, err
		}
		cur := *st
		cur.inner = hd
		lo.store(cur)
		st = &cur
	}
	rec, err := dep.Layout.Recover(ctx, lo.set, lo.index, st.inner, time.Now())
	switch {
	case errors.Is(err, format.ErrForeign):
		return rec, format.ReasonForeign, err
	case errors.Is(err, format.ErrWrongPosition):
		return rec, format.ReasonDisagrees, err
	case err != nil:
		return rec, format.ReasonReadFailed, err
	}
	return rec, 0, nil
}
