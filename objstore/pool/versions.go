package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

var (
	_ objstore.VersionedLayer         = (*Pool)(nil)
	_ objstore.VersionMetadataUpdater = (*Pool)(nil)
)

// versioningCache keeps each bucket's versioning state, read from its configuration record
// once, so that a write does not read the record: SetBucketConfig updates it, MakeBucket
// and DeleteBucket forget it, and so does BucketConfigChanged, which a cluster's watch of
// the shared store calls when another node changed a bucket's documents.
type versioningCache struct {
	mu sync.Mutex
	// states is guarded by mu.
	states map[string]objstore.Versioning
	// gen counts the forgets: a load that raced one is not kept. GUARDED_BY(mu)
	gen uint64
}

// get returns bucket's state, or false and the generation a load must be stored under.
func (c *versioningCache) get(bucket string) (objstore.Versioning, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.states[bucket]
	return v, c.gen, ok
}

func (c *versioningCache) set(bucket string, v objstore.Versioning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(bucket, v)
}

func (c *versioningCache) setLocked(bucket string, v objstore.Versioning) {
	if c.states == nil {
		c.states = make(map[string]objstore.Versioning)
	}
	c.states[bucket] = v
}

// load stores v, loaded since get returned gen, unless a forget came in between.
func (c *versioningCache) load(bucket string, v objstore.Versioning, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.setLocked(bucket, v)
	}
}

// forget drops bucket's state ("": every bucket's).
func (c *versioningCache) forget(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if bucket == "" {
		clear(c.states)
	} else {
		delete(c.states, bucket)
	}
}

// BucketVersioning implements objstore.VersionedLayer.
func (p *Pool) BucketVersioning(ctx context.Context, bucket string) (objstore.Versioning, error) {
	v, gen, ok := p.versioning.get(bucket)
	if ok {
		return v, nil
	}
	docs, err := p.BucketConfig(ctx, bucket)
	if err != nil {
		return objstore.Unversioned, err
	}
	v = objstore.ParseVersioning(docs[objstore.BucketConfigVersioning])
	p.versioning.load(bucket, v, gen)
	return v, nil
}

// StatVersion implements objstore.VersionedLayer, under the key's read lock.
func (p *Pool) StatVersion(ctx context.Context, bucket, key, versionID string) (objstore.ObjectInfo, error) {
	return onKey(ctx, p, bucket, key, false, func(ctx context.Context, s *erasureset.Set) (objstore.ObjectInfo, error) {
		return s.StatVersion(ctx, bucket, key, versionID)
	})
}

// OpenVersion implements objstore.VersionedLayer, under the key's read lock held only while
// opening.
func (p *Pool) OpenVersion(ctx context.Context, bucket, key, versionID string) (objstore.ObjectHandle, error) {
	return onKey(ctx, p, bucket, key, false, func(ctx context.Context, s *erasureset.Set) (objstore.ObjectHandle, error) {
		return s.OpenVersion(ctx, bucket, key, versionID)
	})
}

// DeleteVersion implements objstore.VersionedLayer, under the key's write lock.
func (p *Pool) DeleteVersion(ctx context.Context, bucket, key string, opts objstore.DeleteOptions) (objstore.DeleteResult, error) {
	if err := checkBucketName(bucket); err != nil {
		return objstore.DeleteResult{}, err
	}
	mode, err := p.writeVersioning(ctx, bucket)
	if err != nil {
		return objstore.DeleteResult{}, err
	}
	ctx, unlock, err := p.lockKey(ctx, bucket, key, true)
	if err != nil {
		return objstore.DeleteResult{}, err
	}
	defer unlock()
	s := p.setFor(key)
	res, err := s.DeleteVersion(ctx, bucket, key, opts, mode)
	if err != nil {
		return objstore.DeleteResult{}, err
	}
	p.publishLatest(ctx, s, bucket, key)
	return res, nil
}

// publishLatest tells the change feed what a change of versions left as the key's latest
// version: an object (a put event) or none (a delete event).
func (p *Pool) publishLatest(ctx context.Context, s *erasureset.Set, bucket, key string) {
	info, err := s.StatObject(ctx, bucket, key)
	if err != nil {
		p.publish(ctx, objstore.Event{Type: objstore.EventDelete, Bucket: bucket, Key: key})
		return
	}
	p.publish(ctx, objstore.Event{Type: objstore.EventPut, Bucket: bucket, Key: key, Info: info})
}

// SetObjectLock implements objstore.VersionedLayer, under the key's write lock.
// The latest version's lock is part of what the mount shows of the file (an unlink or
// overwrite of it is EPERM), so its change is published as a metadata update's is.
func (p *Pool) SetObjectLock(ctx context.Context, bucket, key, versionID string, update objstore.LockUpdate, bypass bool) (objstore.ObjectInfo, error) {
	return p.updateVersion(ctx, bucket, key, func(ctx context.Context, s *erasureset.Set) (objstore.ObjectInfo, error) {
		return s.SetObjectLock(ctx, bucket, key, versionID, update, bypass)
	})
}

// UpdateVersionMetadata implements objstore.VersionMetadataUpdater, under the key's write
// lock. A change of the latest version is published as UpdateObjectMetadata's is; a
// noncurrent version's is not (the mount shows the latest only).
func (p *Pool) UpdateVersionMetadata(ctx context.Context, bucket, key, versionID string, patch objstore.MetadataPatch) (objstore.ObjectInfo, error) {
	return p.updateVersion(ctx, bucket, key, func(ctx context.Context, s *erasureset.Set) (objstore.ObjectInfo, error) {
		return s.UpdateVersionMetadata(ctx, bucket, key, versionID, patch)
	})
}

// updateVersion runs change, a change of one version's record, on key's set under the
// key's write lock, and publishes it as a metadata event if the version is the latest; a
// noncurrent version's change is not published (the mount shows the latest only).
func (p *Pool) updateVersion(ctx context.Context, bucket, key string, change func(context.Context, *erasureset.Set) (objstore.ObjectInfo, error)) (objstore.ObjectInfo, error) {
	info, err := onKey(ctx, p, bucket, key, true, change)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if info.Version.IsLatest {
		p.publish(ctx, objstore.Event{Type: objstore.EventMetadata, Bucket: bucket, Key: key, Info: info})
	}
	return info, nil
}

// onKey checks the bucket's name and runs fn on key's set under the key's lock, exclusive
// when write, with the context of the lock's grant (which fences fn's drive calls).
func onKey[T any](ctx context.Context, p *Pool, bucket, key string, write bool, fn func(context.Context, *erasureset.Set) (T, error)) (T, error) {
	var zero T
	if err := checkBucketName(bucket); err != nil {
		return zero, err
	}
	ctx, unlock, err := p.lockKey(ctx, bucket, key, write)
	if err != nil {
		return zero, err
	}
	defer unlock()
	return fn(ctx, p.setFor(key))
}

// ListObjectVersions implements objstore.VersionedLayer: the walk of ListObjects, each key
// expanded into its versions, newest first.
func (p *Pool) ListObjectVersions(ctx context.Context, bucket string, opts objstore.ListVersionsOptions) (objstore.ListVersionsResult, error) {
	if _, err := p.GetBucketInfo(ctx, bucket); err != nil {
		return objstore.ListVersionsResult{}, err
	}
	if err := p.wb.waitPrefix(ctx, bucket, opts.Prefix); err != nil {
		return objstore.ListVersionsResult{}, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	walk := listWalk(opts.Prefix, opts.Delimiter, opts.KeyMarker)
	if opts.VersionIDMarker != "" {
		// The marker's key is listed again, from the version after the marker.
		walk.StartAfter = before(opts.KeyMarker)
	}
	var res objstore.ListVersionsResult
	var lastPrefix string
	full := func() bool { return len(res.Versions)+len(res.Prefixes) == maxKeys }
	err := p.walk(ctx, bucket, walk, func(e erasureset.Entry) error {
		if e.Key < opts.KeyMarker || (e.Key == opts.KeyMarker && opts.VersionIDMarker == "") {
			return nil
		}
		key, isPrefix, skip := rollUp(e, opts.Prefix, opts.Delimiter, opts.KeyMarker, lastPrefix)
		if skip {
			return nil
		}
		if isPrefix {
			if full() {
				res.IsTruncated = true
				return errStop
			}
			res.Prefixes = append(res.Prefixes, key)
			lastPrefix = key
			res.NextKeyMarker, res.NextVersionIDMarker = key, ""
			return nil
		}
		if e.Record == nil {
			return nil
		}
		versions := erasureset.Versions(bucket, key, e.Record)
		if key == opts.KeyMarker {
			i := 0
			for i < len(versions) && versions[i].Version.VersionID != opts.VersionIDMarker {
				i++
			}
			if i == len(versions) {
				return nil // the marker's version is gone: the key was listed up to it
			}
			versions = versions[i+1:]
		}
		for _, v := range versions {
			if full() {
				res.IsTruncated = true
				return errStop
			}
			res.Versions = append(res.Versions, v)
			res.NextKeyMarker, res.NextVersionIDMarker = key, v.Version.VersionID
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return objstore.ListVersionsResult{}, err
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}

// before returns a string that sorts before key and after every key shorter than it that
// sorts before it... as near to it as one byte allows; the walk's keys between it and key
// are skipped by the caller.
func before(key string) string {
	if key == "" {
		return ""
	}
	last := key[len(key)-1]
	if last == 0 {
		return key[:len(key)-1]
	}
	return key[:len(key)-1] + string([]byte{last - 1})
}

// writeVersioning is BucketVersioning for a write: a write that cannot learn the bucket's
// versioning cannot be made without risk to its versions, and fails as a write below
// quorum does (it is both errors).
func (p *Pool) writeVersioning(ctx context.Context, bucket string) (objstore.Versioning, error) {
	mode, err := p.BucketVersioning(ctx, bucket)
	if errors.Is(err, objstore.ErrReadQuorum) {
		err = fmt.Errorf("%w: %w", objstore.ErrWriteQuorum, err)
	}
	return mode, err
}
