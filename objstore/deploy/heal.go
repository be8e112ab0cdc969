package deploy

import (
	"context"
	"sync"

	"github.com/flashstor/flashstor/objstore/erasureset"
)

// RunHealing heals in the background until ctx is done: the objects reads and writes
// queue, every set holding a drive this start formatted to replace a missing one, and the
// set of every drive that comes back online. report, if set, sees every healed object.
func (dep *Deployment) RunHealing(ctx context.Context, report func(erasureset.HealResult, error)) {
	dep.RunHealers(ctx, report)
	var wg sync.WaitGroup
	fullHeal := func(si int, why string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := dep.Sets()[si]
			dep.log.Info("healing set", "set", si, "reason", why)
			err := s.HealAll(ctx, false, func(r erasureset.HealResult) {
				if report != nil {
					report(r, nil)
				}
			})
			if err != nil {
				dep.log.Warn("set heal incomplete", "set", si, "err", err)
			} else {
				dep.log.Info("set healed", "set", si)
			}
		}()
	}
	fresh := make(map[int]bool)
	for _, pos := range dep.Layout.Fresh {
		fresh[pos[0]] = true
	}
	for si := range fresh {
		fullHeal(si, "replaced drive")
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case si := <-dep.reconnected:
				fullHeal(si, "drive back online")
			}
		}
	}()
	<-ctx.Done()
	wg.Wait()
	dep.WaitHealers()
}
