package pool

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/journal"
)

// The pool's use of the intent journal (package journal): operations on several keys
// commit their record first (beginActive), and RecoverJournal completes the records whose
// operation a crash or an error interrupted. A record is active while its operation runs
// in this process: recovery leaves it alone.

// runRecord does what rec says, from wherever an earlier run of it stopped.
func (p *Pool) runRecord(ctx context.Context, rec *journal.Record) error {
	switch rec.Op {
	case journal.OpSyncNames:
		return p.syncNames(ctx, rec)
	case journal.OpRenameKey:
		return p.finishRenameKey(ctx, rec)
	}
	if rec.DeleteDst {
		if err := p.DeleteObject(ctx, rec.Bucket, rec.Dst); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
	}
	err := p.eachObject(ctx, rec.Bucket, rec.Src, func(o objstore.ObjectInfo) error {
		dst := rec.Dst + o.Key[len(rec.Src):]
		_, err := p.renameObject(ctx, rec.Bucket, o.Key, dst, objstore.RenameOptions{}, false)
		if err == nil || errors.Is(err, objstore.ErrObjectNotFound) || ctx.Err() != nil {
			return ctx.Err()
		}
		if p.SetIndex(o.Key) == p.SetIndex(dst) {
			return p.finishDriveRenames(ctx, rec.Bucket, o.Key, dst)
		}
		return p.healedRetry(ctx, rec.Bucket, []string{o.Key, dst}, func() error {
			_, err := p.renameObject(ctx, rec.Bucket, o.Key, dst, objstore.RenameOptions{}, false)
			return err
		})
	})
	if err != nil {
		return err
	}
	if err := p.sweepDrives(ctx, rec); err != nil {
		return err
	}
	if len(rec.KeyLists) == 0 {
		return nil
	}
	return p.rewriteKeyLists(ctx, rec)
}

// healedRetry runs op, which changes keys; ErrObjectNotFound counts as done. If op fails
// otherwise, the keys are healed and op runs once more. A crash in the middle of a rename
// within a set leaves the object renamed on some drives only, so that neither key is on a
// write quorum of drives and the rename's next try fails (ErrWriteQuorum): healing both
// keys first makes each whole again (or removes a copy too small to read), and the rename
// then replaces the destination with the source.
func (p *Pool) healedRetry(ctx context.Context, bucket string, keys []string, op func() error) error {
	err := op()
	if err == nil || errors.Is(err, objstore.ErrObjectNotFound) {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	for _, k := range keys {
		if _, herr := p.setFor(k).HealObject(ctx, bucket, k, false); herr != nil {
			p.log.Warn("pool: healing a key an interrupted operation left", "bucket", bucket, "key", k, "err", herr)
		}
	}
	if err = op(); errors.Is(err, objstore.ErrObjectNotFound) {
		return nil
	}
	return err
}

// RecoverJournal completes the operations that the journal holds, interrupted by a crash
// or an error, and reports how many it completed and how many records it could not yet
// decide on (drives not answering). The deployment runs it when it opens and while it
// heals.
func (p *Pool) RecoverJournal(ctx context.Context) (completed, undecided int, err error) {
	p.prefixMu.Lock()
	defer p.prefixMu.Unlock()
	live, undecided, err := p.journal.Pending(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range live {
		p.jmu.Lock()
		active, finished := p.active[e.ID], p.finished[e.ID]
		p.jmu.Unlock()
		if active {
			continue
		}
		if !finished {
			err := p.runRecord(ctx, e.Record)
			if err != nil && !errors.Is(err, objstore.ErrBucketNotFound) {
				errs = append(errs, fmt.Errorf("journal record %s (%s %s/%s): %w", e.ID, e.Record.Op, e.Record.Bucket, e.Record.Src, err))
				continue
			}
			p.log.Info("pool: completed an interrupted operation", "op", e.Record.Op, "bucket", e.Record.Bucket, "src", e.Record.Src, "dst", e.Record.Dst)
		}
		err := p.journal.Done(ctx, e.ID)
		p.jmu.Lock()
		if err == nil {
			delete(p.finished, e.ID)
		} else {
			p.finished[e.ID] = true
		}
		p.jmu.Unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		completed++
	}
	return completed, undecided, errors.Join(errs...)
}

// beginActive commits rec to the journal, marked active until endActive. The mark comes
// first, so that a recovery that lists the record finds it active already; the journal's
// writes run with no lock held.
func (p *Pool) beginActive(ctx context.Context, rec *journal.Record) (string, error) {
	id := p.journal.NewID()
	p.jmu.Lock()
	p.active[id] = true
	p.jmu.Unlock()
	if err := p.journal.Write(ctx, id, rec); err != nil {
		p.jmu.Lock()
		delete(p.active, id)
		p.jmu.Unlock()
		return "", err
	}
	return id, nil
}

// endActive removes a finished operation's record.
func (p *Pool) endActive(ctx context.Context, id string) error {
	err := p.journal.Done(ctx, id)
	p.jmu.Lock()
	defer p.jmu.Unlock()
	delete(p.active, id)
	if err != nil {
		// The operation is whole: the record must not run again in this process.
		p.finished[id] = true
	}
	return err
}

// leaveToRecovery unmarks the record of an operation that failed part way: the next
// RecoverJournal (the heal's, every format check) completes it.
func (p *Pool) leaveToRecovery(id string) {
	p.jmu.Lock()
	defer p.jmu.Unlock()
	delete(p.active, id)
}
