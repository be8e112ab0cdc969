package erasureset

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
)

// The versions of a key live in its one metadata record (meta's format 2): the latest
// version in the record's own fields, the older ones in Noncurrent, newest first. Every
// change of a key's versions (a put, a delete marker, the removal of a version, a new
// retention) writes a whole new record with a new record id (VersionID), through commit,
// so that the drives' agreement on a record and its crash safety are those of a put.
// A version's data directory is removed only once no record names it (removeReplaced),
// after the key's lock is released, and never while a handle reads it (pins).

// versionString is the S3 form of a version id: "null" for the null version.
func versionString(id [16]byte) string {
	if id == ([16]byte{}) {
		return objstore.NullVersion
	}
	return hexID(id)
}

// parseVersionID reads a version id; false for one this store cannot have made.
func parseVersionID(s string) ([16]byte, bool) {
	var id [16]byte
	if s == objstore.NullVersion {
		return id, true
	}
	if len(s) != 32 {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || id == ([16]byte{}) {
		return id, false
	}
	return id, true
}

// versionCount is the number of versions m holds.
func versionCount(m *meta.Object) int { return 1 + len(m.Noncurrent) }

// versionAt returns m's version i: 0 is the latest, then the noncurrent ones.
func versionAt(m *meta.Object, i int) *meta.Object {
	if i == 0 {
		return m
	}
	return &m.Noncurrent[i-1]
}

// findVersion returns the position of version id in m, or -1.
func findVersion(m *meta.Object, id [16]byte) int {
	for i := 0; i < versionCount(m); i++ {
		if versionAt(m, i).ID == id {
			return i
		}
	}
	return -1
}

// liveOf returns the record's latest version when it is an object, nil when it is a delete
// marker or there is no record: what preconditions test.
func liveOf(m *meta.Object) *meta.Object {
	if m == nil || m.DeleteMarker {
		return nil
	}
	return m
}

// lockOf returns a version's object-lock state.
func lockOf(v *meta.Object) objstore.ObjectLock {
	l := objstore.ObjectLock{LegalHold: v.LegalHold, RetainUntil: v.Retention.Until}
	switch v.Retention.Mode {
	case meta.RetentionGovernance:
		l.Mode = objstore.RetentionGovernance
	case meta.RetentionCompliance:
		l.Mode = objstore.RetentionCompliance
	}
	return l
}

// setLock stores l in version v.
func setLock(v *meta.Object, l objstore.ObjectLock) error {
	v.LegalHold = l.LegalHold
	switch l.Mode {
	case "":
		v.Retention = meta.Retention{}
		return nil
	case objstore.RetentionGovernance:
		v.Retention.Mode = meta.RetentionGovernance
	case objstore.RetentionCompliance:
		v.Retention.Mode = meta.RetentionCompliance
	default:
		return fmt.Errorf("%w: retention mode %q", objstore.ErrInvalidArgument, l.Mode)
	}
	if l.RetainUntil.IsZero() {
		return fmt.Errorf("%w: retention without a date", objstore.ErrInvalidArgument)
	}
	v.Retention.Until = l.RetainUntil.UTC()
	return nil
}

// asNoncurrent returns a copy of version v as a record's noncurrent version.
func asNoncurrent(v *meta.Object) meta.Object {
	c := *v
	c.VersionID = [16]byte{}
	c.Noncurrent = nil
	return c
}

// withVersion makes nv, a new version, the latest of a record holding before's versions
// (before may be nil): in an Enabled bucket nv gets a new id and every version stays; else
// nv is the null version and replaces the null one (refused when that one is locked). It
// sets nv's id and Noncurrent, not its record id.
func withVersion(before, nv *meta.Object, mode objstore.Versioning, now time.Time) error {
	nv.ID = [16]byte{}
	if mode == objstore.VersioningEnabled {
		nv.ID = newID()
	}
	nv.Noncurrent = nil
	if before == nil {
		return nil
	}
	var kept []meta.Object
	for i := 0; i < versionCount(before); i++ {
		v := versionAt(before, i)
		if v.ID == nv.ID {
			if lockOf(v).Locked(now, false) {
				return fmt.Errorf("%w: the null version is locked", objstore.ErrObjectLocked)
			}
			continue
		}
		if kept == nil {
			kept = make([]meta.Object, 0, versionCount(before))
		}
		kept = append(kept, asNoncurrent(v))
	}
	if len(kept)+1 > meta.MaxVersions {
		return fmt.Errorf("%w: %d versions", objstore.ErrTooManyVersions, len(kept)+1)
	}
	nv.Noncurrent = kept
	return nil
}

// without returns a record of m's versions but the one at position i, the next one
// promoted to latest if i is 0; nil when i was the only one.
func without(m *meta.Object, i int) *meta.Object {
	n := versionCount(m)
	if n == 1 {
		return nil
	}
	rest := make([]meta.Object, 0, n-1)
	for j := 0; j < n; j++ {
		if j != i {
			rest = append(rest, asNoncurrent(versionAt(m, j)))
		}
	}
	rec := rest[0]
	if len(rest) > 1 {
		rec.Noncurrent = rest[1:]
	}
	return &rec
}

// pickVersion returns the version of record m that versionID names ("" for the latest):
// ErrNoSuchVersion, or a *DeleteMarkerError for a delete marker.
func pickVersion(m *meta.Object, bucket, key, versionID string) (*meta.Object, error) {
	if versionID == "" {
		if m.DeleteMarker {
			return nil, &objstore.DeleteMarkerError{Bucket: bucket, Key: key, VersionID: versionString(m.ID)}
		}
		return m, nil
	}
	id, ok := parseVersionID(versionID)
	i := -1
	if ok {
		i = findVersion(m, id)
	}
	if i < 0 {
		return nil, fmt.Errorf("%w: %s/%s version %s", objstore.ErrNoSuchVersion, bucket, key, versionID)
	}
	v := versionAt(m, i)
	if v.DeleteMarker {
		return nil, &objstore.DeleteMarkerError{Bucket: bucket, Key: key, VersionID: versionID, ByID: true}
	}
	return v, nil
}

// readNamed reads the key's record and picks the version versionID names ("" the latest).
// A key with no record has no version of any id: ErrNoSuchVersion when one was named.
func (s *Set) readNamed(ctx context.Context, bucket, key, versionID string) (*version, *meta.Object, error) {
	return s.readNamedOpt(ctx, bucket, key, versionID, false)
}

// readNamedOpt is readNamed; toRead (for reads that change nothing) lets it leave slow
// drives aside (readVersionToRead).
func (s *Set) readNamedOpt(ctx context.Context, bucket, key, versionID string, toRead bool) (*version, *meta.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	var v *version
	var err error
	if toRead {
		v, err = s.readVersionToRead(ctx, bucket, key)
	} else {
		v, err = s.readVersion(ctx, bucket, key)
	}
	if errors.Is(err, objstore.ErrObjectNotFound) && versionID != "" {
		return nil, nil, fmt.Errorf("%w: %w", objstore.ErrNoSuchVersion, err)
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := pickVersion(v.current, bucket, key, versionID)
	return v, m, err
}

// StatVersion returns a version's information ("" for the latest).
func (s *Set) StatVersion(ctx context.Context, bucket, key, versionID string) (objstore.ObjectInfo, error) {
	v, m, err := s.readNamedOpt(ctx, bucket, key, versionID, true)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if v.needsHeal() {
		s.QueueHeal(bucket, key)
	}
	info := objectInfo(bucket, key, m, nil)
	info.Version.IsLatest = m == v.current
	return info, nil
}

// inlineOn returns drive i's inline shard of version id as before holds it (nil when the
// drive does not hold before's record).
func inlineOn(before *version, i int, id [16]byte) []byte {
	if before == nil || before.current == nil || !before.holds[i] {
		return nil
	}
	d := before.decoded[i]
	if j := findVersion(d, id); j >= 0 {
		return versionAt(d, j).InlineData
	}
	return nil
}

// noncurrentOn returns drive i's copy of a record's noncurrent versions: the same headers on
// every drive, but each inline version with drive i's own shard of it, from before (none
// when the drive did not hold it: a missing shard, which the other drives make up for).
func noncurrentOn(nc []meta.Object, before *version, i int) []meta.Object {
	inline := false
	for j := range nc {
		inline = inline || nc[j].Inline
	}
	if !inline {
		return nc
	}
	out := make([]meta.Object, len(nc))
	for j := range nc {
		out[j] = nc[j]
		if nc[j].Inline {
			out[j].InlineData = inlineOn(before, i, nc[j].ID)
		}
	}
	return out
}

// DeleteVersion deletes as S3 does (see objstore.DeleteOptions): with a version id it
// removes that version (and its data, once no reader needs it); without one, in a
// versioned bucket, it makes a delete marker the latest version. The caller holds the
// key's write lock; an unversioned delete without id is DeleteObject's.
func (s *Set) DeleteVersion(ctx context.Context, bucket, key string, opts objstore.DeleteOptions, mode objstore.Versioning) (objstore.DeleteResult, error) {
	if err := checkKey(key); err != nil {
		return objstore.DeleteResult{}, err
	}
	if opts.VersionID == "" && mode == objstore.Unversioned {
		return objstore.DeleteResult{}, s.DeleteObject(ctx, bucket, key)
	}
	before, err := s.readVersion(ctx, bucket, key)
	switch {
	case errors.Is(err, objstore.ErrObjectNotFound) && opts.VersionID == "":
		// S3 makes a delete marker even where there is no object.
	case errors.Is(err, objstore.ErrObjectNotFound):
		return objstore.DeleteResult{}, fmt.Errorf("%w: %w", objstore.ErrNoSuchVersion, err)
	case err != nil:
		return objstore.DeleteResult{}, err
	}
	now := time.Now().UTC()
	var rec *meta.Object
	var res objstore.DeleteResult
	if opts.VersionID == "" {
		rec = &meta.Object{
			DeleteMarker: true,
			ModTime:      now,
			Erasure: meta.Erasure{DataShards: s.k, ParityShards: s.m, BlockSize: s.cfg.BlockSize,
				Distribution: distribution(key, len(s.drives)), Bitrot: uint8(s.cfg.Bitrot)},
		}
		if err := withVersion(before.current, rec, mode, now); err != nil {
			return objstore.DeleteResult{}, err
		}
		res = objstore.DeleteResult{VersionID: versionString(rec.ID), DeleteMarker: true}
	} else {
		id, ok := parseVersionID(opts.VersionID)
		i := -1
		if ok {
			i = findVersion(before.current, id)
		}
		if i < 0 {
			return objstore.DeleteResult{}, fmt.Errorf("%w: %s/%s version %s", objstore.ErrNoSuchVersion, bucket, key, opts.VersionID)
		}
		v := versionAt(before.current, i)
		if lockOf(v).Locked(now, opts.BypassGovernance) {
			return objstore.DeleteResult{}, fmt.Errorf("%w: %s/%s version %s", objstore.ErrObjectLocked, bucket, key, opts.VersionID)
		}
		res = objstore.DeleteResult{VersionID: opts.VersionID, DeleteMarker: v.DeleteMarker}
		if rec = without(before.current, i); rec == nil {
			return res, s.deleteRecord(ctx, bucket, key, opts.BypassGovernance)
		}
	}
	if err := s.commitRecord(ctx, bucket, key, rec, before); err != nil {
		return objstore.DeleteResult{}, err
	}
	return res, nil
}

// commitRecord writes rec, a record of versions whose data is already in place, to every
// drive, then removes the data of the versions it dropped. The caller holds the key's
// write lock.
func (s *Set) commitRecord(ctx context.Context, bucket, key string, rec *meta.Object, before *version) error {
	rec.VersionID = newID()
	if err := s.commit(ctx, bucket, key, rec, before, nil, nil, "", nil); err != nil {
		return err
	}
	s.removeReplaced(context.WithoutCancel(ctx), bucket, before, rec)
	return nil
}

// SetObjectLock changes a version's retention or legal hold ("" for the latest). A
// COMPLIANCE retention in force is never shortened nor removed; a GOVERNANCE one only with
// bypass. The caller holds the key's write lock.
func (s *Set) SetObjectLock(ctx context.Context, bucket, key, versionID string, u objstore.LockUpdate, bypass bool) (objstore.ObjectInfo, error) {
	before, v, err := s.readNamed(ctx, bucket, key, versionID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	now := time.Now().UTC()
	old := lockOf(v)
	l := old
	if u.LegalHold != nil {
		l.LegalHold = *u.LegalHold
	}
	if u.Retention != nil {
		l.Mode, l.RetainUntil = u.Retention.Mode, u.Retention.RetainUntil
	}
	if u.Retention != nil && old.Mode != "" && now.Before(old.RetainUntil) {
		weaker := l.Mode == "" || l.RetainUntil.Before(old.RetainUntil) ||
			(old.Mode == objstore.RetentionCompliance && l.Mode != objstore.RetentionCompliance)
		if weaker && (old.Mode == objstore.RetentionCompliance || !bypass) {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: %s retention until %s", objstore.ErrObjectLocked, old.Mode, old.RetainUntil.Format(time.RFC3339))
		}
	}
	i := findVersion(before.current, v.ID)
	rec := *before.current
	rec.Noncurrent = append([]meta.Object(nil), rec.Noncurrent...)
	if err := setLock(versionAt(&rec, i), l); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := s.commitRecord(ctx, bucket, key, &rec, before); err != nil {
		return objstore.ObjectInfo{}, err
	}
	info := objectInfo(bucket, key, versionAt(&rec, i), nil)
	info.Version.IsLatest = i == 0
	return info, nil
}

// UpdateVersionMetadata implements objstore.VersionMetadataUpdater for the set: the record
// is rewritten with the version's metadata patched. The caller holds the key's write lock.
func (s *Set) UpdateVersionMetadata(ctx context.Context, bucket, key, versionID string, patch objstore.MetadataPatch) (objstore.ObjectInfo, error) {
	before, v, err := s.readNamed(ctx, bucket, key, versionID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	i := findVersion(before.current, v.ID)
	rec := *before.current
	rec.Noncurrent = append([]meta.Object(nil), rec.Noncurrent...)
	m := versionAt(&rec, i)
	md := maps.Clone(m.Metadata)
	if md == nil {
		md = make(map[string]string, len(patch.Set))
	}
	for _, k := range patch.Delete {
		delete(md, k)
	}
	maps.Copy(md, patch.Set)
	m.Metadata = md
	if err := s.commitRecord(ctx, bucket, key, &rec, before); err != nil {
		return objstore.ObjectInfo{}, err
	}
	info := objectInfo(bucket, key, m, nil)
	info.Version.IsLatest = i == 0
	return info, nil
}

// newVersion makes m, a version whose data is staged, the latest of a record holding
// before's versions (see withVersion), with the object lock l.
func newVersion(before, m *meta.Object, mode objstore.Versioning, l objstore.ObjectLock, now time.Time) error {
	if err := setLock(m, l); err != nil {
		return err
	}
	return withVersion(before, m, mode, now)
}

// Versions describes every version of record m, newest first.
func Versions(bucket, key string, m *meta.Object) []objstore.ObjectInfo {
	out := make([]objstore.ObjectInfo, versionCount(m))
	for i := range out {
		out[i] = objectInfo(bucket, key, versionAt(m, i), nil)
		out[i].Version.IsLatest = i == 0
	}
	return out
}

// lockedVersion reports whether any version of record m is locked at now.
func lockedVersion(m *meta.Object, now time.Time, bypass bool) bool {
	for i := 0; i < versionCount(m); i++ {
		if lockOf(versionAt(m, i)).Locked(now, bypass) {
			return true
		}
	}
	return false
}
