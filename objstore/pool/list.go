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
	if err := p.wb.waitPrefix(ctx, bucket, opts.Prefix); err != nil {
		return objstore.ListResult{}, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	var res objstore.ListResult
	var lastPrefix string
	err := p.walk(ctx, bucket, listWalk(opts.Prefix, opts.Delimiter, opts.Marker), func(e erasureset.Entry) error {
		if e.DeleteMarker {
			return nil // a key whose latest version is a delete marker is not listed
		}
		key, isPrefix, skip := rollUp(e, opts.Prefix, opts.Delimiter, opts.Marker, lastPrefix)
		if skip {
			return nil
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

// listWalk returns the walk of a listing: with delimiter "/" the drives list one
// directory level and report subdirectories as common prefixes, without descending; any
// other delimiter is rolled up by rollUp from a full walk.
func listWalk(prefix, delimiter, startAfter string) storage.WalkOptions {
	return storage.WalkOptions{
		Prefix:     prefix,
		StartAfter: startAfter,
		Recursive:  delimiter != "/",
		WithMeta:   true,
	}
}

// rollUp returns what a walk's entry stands for in a listing: its key, or the common
// prefix (up to and including the delimiter's first occurrence after prefix) it rolls up
// into; skip when that prefix was listed just before (lastPrefix) or on an earlier page
// (it sorts at or before marker).
func rollUp(e erasureset.Entry, prefix, delimiter, marker, lastPrefix string) (key string, isPrefix, skip bool) {
	key, isPrefix = e.Key, e.IsPrefix
	if !isPrefix && delimiter != "" && delimiter != "/" {
		if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
			key, isPrefix = key[:len(prefix)+i+len(delimiter)], true
			return key, true, key == lastPrefix || key <= marker
		}
	}
	return key, isPrefix, false
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
