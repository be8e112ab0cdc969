package pool

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/journal"
)

var _ objstore.NameSyncer = (*Pool)(nil)

// BeginNameSync implements objstore.NameSyncer with a sync-names record of the journal.
// While the caller works, the record is marked active: RecoverJournal leaves it alone.
func (p *Pool) BeginNameSync(ctx context.Context, bucket string, s objstore.NameSync) (func(whole bool) error, error) {
	rec := &journal.Record{Op: journal.OpSyncNames, Bucket: bucket, Src: s.Src,
		Names: s.Names, Removed: s.Removed, Meta: s.Meta}
	if s.KeyList != "" {
		rec.KeyLists = []string{s.KeyList}
	}
	if err := rec.Check(); err != nil {
		return nil, err
	}
	id, err := p.beginActive(ctx, rec)
	if err != nil {
		return nil, err
	}
	return func(whole bool) error {
		if !whole {
			p.leaveToRecovery(id)
			return nil
		}
		return p.endActive(context.WithoutCancel(ctx), id)
	}, nil
}

// syncNames makes every name of rec a copy of its source, then removes the removed ones.
func (p *Pool) syncNames(ctx context.Context, rec *journal.Record) error {
	src := ""
	var info objstore.ObjectInfo
	for _, k := range append([]string{rec.Src}, rec.Names...) {
		i, err := p.StatObject(ctx, rec.Bucket, k)
		if errors.Is(err, objstore.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		src, info = k, i
		break
	}
	if src != "" {
		md := maps.Clone(info.Metadata)
		for _, entry := range rec.KeyLists {
			if len(rec.Names) > 1 {
				md[entry] = encodeKeyList(rec.Names)
			} else {
				delete(md, entry)
			}
		}
		for k, v := range rec.Meta {
			if len(rec.Names) > 1 {
				md[k] = v
			} else {
				delete(md, k)
			}
		}
		for _, k := range rec.Names {
			if k == src {
				continue
			}
			_, err := p.CopyObject(ctx, objstore.ObjectRef{Bucket: rec.Bucket, Key: src}, objstore.ObjectRef{Bucket: rec.Bucket, Key: k},
				objstore.CopyOptions{ReplaceMetadata: true, Metadata: md})
			if err != nil {
				return err
			}
		}
		if !maps.Equal(md, info.Metadata) {
			patch := objstore.MetadataPatch{Set: md}
			for k := range info.Metadata {
				if _, keep := md[k]; !keep {
					patch.Delete = append(patch.Delete, k)
				}
			}
			err := p.healedRetry(ctx, rec.Bucket, []string{src}, func() error {
				_, err := p.UpdateObjectMetadata(ctx, rec.Bucket, src, patch)
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	for _, k := range rec.Removed {
		if slices.Contains(rec.Names, k) {
			continue
		}
		if err := p.healedRetry(ctx, rec.Bucket, []string{k}, func() error { return p.DeleteObject(ctx, rec.Bucket, k) }); err != nil {
			return err
		}
	}
	return nil
}
