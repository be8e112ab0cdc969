package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/layout"
)

var _ objstore.PrefixRenamer = (*Pool)(nil)

// renamePage is how many keys a prefix rename lists at a time.
const renamePage = 1000

// RenamePrefix implements objstore.PrefixRenamer: the intent is committed to the journal
// before any key moves, then the keys move one by one (RenameObject: a metadata-only
// rename within a set, a copy across sets), then the key lists are rewritten, then the
// intent is removed. Every step may be taken again, so a rename that a crash interrupts is
// completed by RecoverJournal from its record alone. Prefix renames run one at a time.
func (p *Pool) RenamePrefix(ctx context.Context, bucket, srcPrefix, dstPrefix string, opts objstore.RenamePrefixOptions) error {
	if _, err := p.GetBucketInfo(ctx, bucket); err != nil {
		return err
	}
	rec := &journal.Record{Op: journal.OpRenamePrefix, Bucket: bucket, Src: srcPrefix, Dst: dstPrefix, KeyLists: opts.KeyLists}
	if err := rec.Check(); err != nil {
		return fmt.Errorf("%w: rename %q to %q", objstore.ErrInvalidObjectName, srcPrefix, dstPrefix)
	}
	p.prefixMu.Lock()
	defer p.prefixMu.Unlock()
	if err := p.checkMovedKeys(ctx, bucket, srcPrefix, dstPrefix); err != nil {
		return err
	}
	_, srcErr := p.StatObject(ctx, bucket, srcPrefix)
	_, dstErr := p.StatObject(ctx, bucket, dstPrefix)
	for _, err := range []error{srcErr, dstErr} {
		if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
	}
	rec.DeleteDst = dstErr == nil && srcErr != nil
	id, err := p.beginActive(ctx, rec)
	if err != nil {
		return err
	}
	if err := p.runRecord(ctx, rec); err != nil {
		p.leaveToRecovery(id)
		return fmt.Errorf("rename %s/%s to %s (left to complete by the journal): %w", bucket, srcPrefix, dstPrefix, err)
	}
	if err := p.endActive(context.WithoutCancel(ctx), id); err != nil {
		p.log.Warn("pool: the journal record of a finished rename stays", "id", id, "err", err)
	}
	return nil
}

// checkMovedKeys fails with ErrKeyTooLong if a key below srcPrefix would be too long
// below dstPrefix: a rename that could not finish must not start.
func (p *Pool) checkMovedKeys(ctx context.Context, bucket, srcPrefix, dstPrefix string) error {
	grow := len(dstPrefix) - len(srcPrefix)
	if grow <= 0 {
		return nil
	}
	for marker := ""; ; {
		page, err := p.ListObjects(ctx, bucket, objstore.ListOptions{Prefix: srcPrefix, Marker: marker, MaxKeys: renamePage})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := layout.CheckKey(dstPrefix + o.Key[len(srcPrefix):]); err != nil {
				return fmt.Errorf("%w: %s below %s: %w", objstore.ErrKeyTooLong, o.Key, dstPrefix, err)
			}
		}
		if !page.IsTruncated {
			return nil
		}
		marker = page.NextMarker
	}
}

// runRecord does what rec says, from wherever an earlier run of it stopped.
func (p *Pool) runRecord(ctx context.Context, rec *journal.Record) error {
	if rec.Op == journal.OpSyncNames {
		return p.syncNames(ctx, rec)
	}
	if rec.DeleteDst {
		if err := p.DeleteObject(ctx, rec.Bucket, rec.Dst); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
	}
	for marker := ""; ; {
		page, err := p.ListObjects(ctx, rec.Bucket, objstore.ListOptions{Prefix: rec.Src, Marker: marker, MaxKeys: renamePage})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			_, err := p.RenameObject(ctx, rec.Bucket, o.Key, rec.Dst+o.Key[len(rec.Src):], objstore.RenameOptions{})
			if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
				return err
			}
		}
		if !page.IsTruncated {
			break
		}
		marker = page.NextMarker
	}
	if len(rec.KeyLists) == 0 {
		return nil
	}
	return p.rewriteKeyLists(ctx, rec)
}

// rewriteKeyLists rewrites the key lists of the objects now below rec.Dst that still name
// keys below rec.Src, in every object such a list names whose own list is the same.
func (p *Pool) rewriteKeyLists(ctx context.Context, rec *journal.Record) error {
	moved := func(keys []string) []string {
		out := slices.Clone(keys)
		for i, k := range out {
			if strings.HasPrefix(k, rec.Src) {
				out[i] = rec.Dst + k[len(rec.Src):]
			}
		}
		return out
	}
	for marker := ""; ; {
		page, err := p.ListObjects(ctx, rec.Bucket, objstore.ListOptions{Prefix: rec.Dst, Marker: marker, MaxKeys: renamePage})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			for _, entry := range rec.KeyLists {
				old, ok := decodeKeyList(o.Metadata[entry])
				if !ok {
					continue
				}
				want := moved(old)
				if slices.Equal(old, want) {
					continue
				}
				if err := p.storeKeyList(ctx, rec.Bucket, entry, want, moved); err != nil {
					return err
				}
			}
		}
		if !page.IsTruncated {
			return nil
		}
		marker = page.NextMarker
	}
}

// storeKeyList stores list under entry in every object it names whose list, moved, is it.
func (p *Pool) storeKeyList(ctx context.Context, bucket, entry string, list []string, moved func([]string) []string) error {
	patch := objstore.MetadataPatch{Set: map[string]string{entry: encodeKeyList(list)}}
	for _, k := range list {
		info, err := p.StatObject(ctx, bucket, k)
		if errors.Is(err, objstore.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		cur, ok := decodeKeyList(info.Metadata[entry])
		if !ok || slices.Equal(cur, list) || !slices.Equal(moved(cur), list) {
			continue // not of this list, or rewritten already
		}
		if _, err := p.UpdateObjectMetadata(ctx, bucket, k, patch); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
	}
	return nil
}

// decodeKeyList reads a URL-escaped JSON list of keys.
func decodeKeyList(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	s, err := url.QueryUnescape(v)
	var keys []string
	if err != nil || json.Unmarshal([]byte(s), &keys) != nil {
		return nil, false
	}
	return keys, true
}

func encodeKeyList(keys []string) string {
	b, _ := json.Marshal(keys) // a []string always marshals
	return url.QueryEscape(string(b))
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
