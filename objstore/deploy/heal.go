package deploy

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
)

// HealingOptions tune the background healing.
type HealingOptions struct {
	// ScanInterval is how often every set is healed in full (default 6h; negative: never).
	ScanInterval time.Duration
	// FormatCheckInterval is how often every drive's format record is checked, to notice a
	// drive wiped or replaced while the server runs (default 1m).
	FormatCheckInterval time.Duration
	// Report, if set, sees every healed object.
	Report func(erasureset.HealResult, error)
}

// RunHealing heals in the background until ctx is done: the objects reads and writes
// queue; every set holding a drive this start formatted to replace a missing one; the set
// of every drive that comes back online, or that lost its format record while running (it
// is formatted again for its position); the set of every drive left out of the start that
// RecoverLeftOut brings back (tried at once, then every FormatCheckInterval), deeply, since
// its shards may be as damaged as its record was; and every set, in full, every
// ScanInterval. Every FormatCheckInterval it also completes the operations of the journal
// that an error interrupted or that the start could not decide on.
func (dep *Deployment) RunHealing(ctx context.Context, opts HealingOptions) {
	if opts.ScanInterval == 0 {
		opts.ScanInterval = 6 * time.Hour
	}
	if opts.FormatCheckInterval <= 0 {
		opts.FormatCheckInterval = time.Minute
	}
	report := opts.Report
	dep.RunHealers(ctx, report)
	heals := &fullHeals{running: make(map[int]*healRequest), run: func(si int, deep bool, why string) {
		s := dep.Sets()[si]
		dep.log.Info("healing set", "set", si, "reason", why, "deep", deep)
		err := s.HealAll(ctx, deep, func(r erasureset.HealResult) {
			if report != nil {
				report(r, nil)
			}
		})
		if err != nil {
			dep.log.Warn("set heal incomplete", "set", si, "err", err)
		} else {
			dep.log.Info("set healed", "set", si)
		}
	}}
	fullHeal := heals.start
	// A drive formatted by this start that is not empty lost its record but kept data of
	// unknown state: its set is healed deeply, every shard verified.
	fresh := make(map[int]bool)
	for _, pos := range dep.Layout.Fresh {
		vols, err := dep.Layout.Sets[pos[0]][pos[1]].ListVolumes(ctx)
		fresh[pos[0]] = fresh[pos[0]] || err != nil || len(vols) > 0
	}
	for si, deep := range fresh {
		fullHeal(si, deep, "drive formatted by this start")
	}
	recoverLeftOut := func() {
		back, _ := dep.RecoverLeftOut(ctx)
		sets := make(map[int]bool)
		for _, r := range back {
			sets[r.Set] = true
		}
		for si := range sets {
			fullHeal(si, true, "left-out drive brought back")
		}
	}
	recoverLeftOut()
	var scan <-chan time.Time
	if opts.ScanInterval > 0 {
		t := time.NewTicker(opts.ScanInterval)
		defer t.Stop()
		scan = t.C
	}
	formatCheck := time.NewTicker(opts.FormatCheckInterval)
	defer formatCheck.Stop()
	// The loop starts full heals (heals.wg.Add) until it returns: it must have returned
	// before heals.wg.Wait, or an Add could race with the Wait.
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			select {
			case <-ctx.Done():
				return
			case si := <-dep.reconnected:
				fullHeal(si, false, "drive back online")
			case <-scan:
				for si := range dep.Sets() {
					fullHeal(si, false, "periodic scan")
				}
			case <-formatCheck.C:
				for si := range dep.checkFormats(ctx) {
					fullHeal(si, false, "drive lost its format (wiped or replaced)")
				}
				recoverLeftOut()
				dep.recoverJournal(ctx)
			}
		}
	}()
	<-ctx.Done()
	<-loopDone
	heals.wg.Wait()
	dep.WaitHealers()
}

// fullHeals runs the full heals of sets one at a time per set: a heal asked for while one
// of the same set runs is run once after it (deeply if any request was deep), since two at
// once would do the same work twice and contend for the same objects.
type fullHeals struct {
	run func(si int, deep bool, why string)
	wg  sync.WaitGroup

	mu sync.Mutex
	// running has an entry for each set whose heal runs, holding what was asked for
	// meanwhile. Guarded by mu.
	running map[int]*healRequest
}

// healRequest is what was asked for while a set's heal ran.
type healRequest struct {
	queued, deep bool
	why          string
}

// start runs a full heal of set si, or queues it behind the one that runs.
func (h *fullHeals) start(si int, deep bool, why string) {
	h.mu.Lock()
	if r, ok := h.running[si]; ok {
		r.queued, r.deep, r.why = true, r.deep || deep, why
		h.mu.Unlock()
		return
	}
	h.running[si] = &healRequest{}
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			h.run(si, deep, why)
			h.mu.Lock()
			r := h.running[si]
			if !r.queued {
				delete(h.running, si)
				h.mu.Unlock()
				return
			}
			deep, why = r.deep, r.why
			h.running[si] = &healRequest{}
			h.mu.Unlock()
		}
	}()
}

// checkFormats checks the format record of every drive in service. A drive that lost its
// record (wiped, or swapped for an empty disk) is formatted again for its position, and its
// set is returned for a heal. A drive whose directory is gone (a disk unmounted: it is never
// created again on the file system below), whose record is damaged, or that holds another
// deployment's or another position's record, is taken out of service at once, loudly (the
// log, and the left-out metric with its reason): RecoverLeftOut brings it back when it can,
// and never writes to another deployment's disk.
func (dep *Deployment) checkFormats(ctx context.Context) map[int]bool {
	sets := make(map[int]bool)
	for _, p := range dep.positions {
		st := p.state.Load()
		if st.out || st.inner == nil {
			continue
		}
		reason, err := format.ReasonReadFailed, error(nil)
		if filepath.IsAbs(p.path) {
			// A drive named otherwise is no directory here: a cluster's remote drive,
			// named by its URL, is checked by the node that holds it.
			err = checkExists(p.path)
		}
		if err == nil {
			reason, err = dep.Layout.Check(ctx, p.set, p.index, st.inner)
		}
		switch {
		case err == nil:
		case errors.Is(err, storage.ErrUnformatted):
			did, err := dep.Layout.Reformat(ctx, p.set, p.index)
			switch {
			case did && err != nil:
				dep.log.Warn("formatting a wiped drive", "drive", p.path, "err", err)
			case did:
				dep.log.Warn("drive lost its format record: formatted again for its position", "drive", p.path)
				sets[p.set] = true
			}
		case reason == format.ReasonReadFailed && !errors.Is(err, errMissing):
			// An I/O error reading the record is the health tracking's to judge.
		default:
			p.takeOut(reason, err)
			dep.log.Error("drive taken out of service while running: it is not written to until healing brings it back",
				"drive", p.path, "set", p.set, "position", p.index, "reason", reason.String(), "err", err)
		}
	}
	return sets
}
