package pool

import (
	"context"
	"strings"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/internal/stream"
	"github.com/flashstor/flashstor/objstore/storage"
)

// DefaultMaxKeys is the page size when ListOptions.MaxKeys is not positive.
const DefaultMaxKeys = 1000

// ListObjects lists a bucket in key order by merging the ordered walks of every set. With
// delimiter "/" the drives list one directory level and report subdirectories as common
// prefixes, without descending; any other delimiter is rolled up here from a full walk.
func (p *Pool) ListObjects(ctx context.Context, bucket string, opts objstore.ListOptions) (objstore.ListResult, error) {
	if _, err := p.GetBucketInfo(ctx, bucket); err != nil {
		return objstore.ListResult{}, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	walk := storage.WalkOptions{
		Prefix:     opts.Prefix,
		StartAfter: opts.Marker,
		Recursive:  opts.Delimiter != "/",
		WithMeta:   true,
	}
	var res objstore.ListResult
	var lastPrefix string
	err := p.walk(ctx, bucket, walk, func(e erasureset.Entry) error {
		key, isPrefix := e.Key, e.IsPrefix
		if e.DeleteMarker {
			return nil // a key whose latest version is a delete marker is not listed
		}
		if !isPrefix && opts.Delimiter != "" && opts.Delimiter != "/" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				key, isPrefix = key[:len(opts.Prefix)+i+len(opts.Delimiter)], true
				if key == lastPrefix || key <= opts.Marker {
					return nil // rolled up already, or listed on an earlier page
				}
			}
		}
		if len(res.Objects)+len(res.Prefixes) == maxKeys {
			res.IsTruncated = true
			return errStop
		}
		if isPrefix {
			res.Prefixes = append(res.Prefixes, key)
			lastPrefix = key
		} else {
			res.Objects = append(res.Objects, e.Info)
		}
		res.NextMarker = key
		return nil
	})
	if err != nil && err != errStop {
		return objstore.ListResult{}, err
	}
	if !res.IsTruncated {
		res.NextMarker = ""
	}
	return res, nil
}

// errStop ends a walk early.
var errStop = stopError{}

type stopError struct{}

func (stopError) Error() string { return "listing page full" }

// walk merges the ordered walks of every set into one ordered walk; a key (a common prefix)
// found in several sets is reported once.
func (p *Pool) walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(erasureset.Entry) error) error {
	if len(p.sets) == 1 {
		return p.sets[0].Walk(ctx, bucket, opts, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := make([]*stream.Stream[erasureset.Entry], len(p.sets))
	for i, s := range p.sets {
		streams[i] = stream.Start(ctx, func(ctx context.Context, emit func(erasureset.Entry) error) error {
			return s.Walk(ctx, bucket, opts, emit)
		})
	}
	defer func() {
		for _, st := range streams {
			st.Stop()
		}
	}()
	for {
		var next *erasureset.Entry
		for _, st := range streams {
			if e, ok := st.Peek(); ok && (next == nil || e.Key < next.Key) {
				next = e
			}
		}
		if next == nil {
			break
		}
		e := *next
		for _, st := range streams {
			if h, ok := st.Peek(); ok && h.Key == e.Key {
				st.Next()
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	for _, st := range streams {
		if err := st.Err(); err != nil {
			return err
		}
	}
	return nil
}
