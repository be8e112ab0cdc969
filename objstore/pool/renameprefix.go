package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
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
	// The keys below both prefixes move or are replaced: their pending puts land first.
	for _, prefix := range []string{srcPrefix, dstPrefix} {
		if err := p.wb.waitPrefix(ctx, bucket, prefix); err != nil {
			return err
		}
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

// finishDriveRenames completes, drive by drive, the rename of an object within its set
// that a crash interrupted: the drives that renamed it hold it at dst, the others still at
// src, so that neither key may be on enough drives to read (k), let alone write. Every
// drive still holding src renames it to dst (a drive's atomic, metadata-only rename), under
// both keys' write locks; the object is then whole at dst, and a heal is queued for it.
// ErrWriteQuorum when fewer than a write quorum of drives hold it at dst after;
// ErrObjectNotFound when every drive says it holds neither key (nothing to finish).
func (p *Pool) finishDriveRenames(ctx context.Context, bucket, src, dst string) error {
	ctx, unlock, err := p.lockObject(ctx, bucket, []string{src, dst}, nil)
	if err != nil {
		return err
	}
	defer unlock()
	s := p.setFor(src)
	drives := s.Drives()
	errs := s.RenameOnDrives(ctx, bucket, src, dst)
	ok, gone := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrFileNotFound):
			gone++
		}
	}
	if gone == len(drives) {
		return fmt.Errorf("%w: %s/%s is at neither key on any drive", objstore.ErrObjectNotFound, bucket, src)
	}
	s.QueueHeal(bucket, dst)
	s.QueueHeal(bucket, src)
	k, m := s.Geometry()
	if ok < erasureset.WriteQuorum(k, m) {
		return fmt.Errorf("%w: %s/%s renamed to %s on %d of %d drives: %w", objstore.ErrWriteQuorum, bucket, src, dst, ok, len(drives), errors.Join(errs...))
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventRename, Bucket: bucket, Key: src, NewKey: dst})
	return nil
}

// checkMovedKeys fails with ErrKeyTooLong if a key below srcPrefix would be too long
// below dstPrefix: a rename that could not finish must not start.
func (p *Pool) checkMovedKeys(ctx context.Context, bucket, srcPrefix, dstPrefix string) error {
	grow := len(dstPrefix) - len(srcPrefix)
	if grow <= 0 {
		return nil
	}
	return p.eachObject(ctx, bucket, srcPrefix, func(o objstore.ObjectInfo) error {
		if err := layout.CheckKey(dstPrefix + o.Key[len(srcPrefix):]); err != nil {
			return fmt.Errorf("%w: %s below %s: %w", objstore.ErrKeyTooLong, o.Key, dstPrefix, err)
		}
		return nil
	})
}

// eachObject calls fn for every object below prefix, a page at a time, in key order; an
// error from fn stops it. Objects fn moves away do not disturb the listing.
func (p *Pool) eachObject(ctx context.Context, bucket, prefix string, fn func(objstore.ObjectInfo) error) error {
	for marker := ""; ; {
		page, err := p.ListObjects(ctx, bucket, objstore.ListOptions{Prefix: prefix, Marker: marker, MaxKeys: renamePage})
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			return nil
		}
		marker = page.NextMarker
	}
}

// sweepDrives finishes the renames of the objects below rec.Src that the listing cannot
// see: an object whose rename within its set a crash interrupted may be on fewer than k
// drives under each key, and so listed under neither. Each drive's own walk finds them.
// (Across sets, the copy is whole before the source is deleted: a source left on a few
// drives is a leftover the heal removes.)
func (p *Pool) sweepDrives(ctx context.Context, rec *journal.Record) error {
	seen := map[string]bool{}
	for si, s := range p.sets {
		for _, d := range s.Drives() {
			// A drive that cannot walk is offline: what it holds is healed when it returns.
			_ = d.Walk(ctx, rec.Bucket, storage.WalkOptions{Prefix: rec.Src, Recursive: true}, func(e storage.Entry) error {
				if !e.IsPrefix && p.SetIndex(e.Key) == si {
					seen[e.Key] = true
				}
				return nil
			})
		}
	}
	keys := slices.Sorted(maps.Keys(seen))
	for _, k := range keys {
		dst := rec.Dst + k[len(rec.Src):]
		if p.SetIndex(dst) != p.SetIndex(k) {
			continue
		}
		if err := p.finishDriveRenames(ctx, rec.Bucket, k, dst); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return err
		}
	}
	return ctx.Err()
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
	return p.eachObject(ctx, rec.Bucket, rec.Dst, func(o objstore.ObjectInfo) error {
		for _, entry := range rec.KeyLists {
			old, ok := decodeKeyList(o.Metadata[entry])
			if !ok {
				continue
			}
			if want := moved(old); !slices.Equal(old, want) {
				if err := p.storeKeyList(ctx, rec.Bucket, entry, want, moved); err != nil {
					return err
				}
			}
		}
		return nil
	})
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
