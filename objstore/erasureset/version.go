package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// version is what the drives of the set hold for one key, and the version a quorum of them
// agrees on.
type version struct {
	// raw[i] is drive i's metadata file as read (nil if it had none or could not be read),
	// kept to restore it if a write must be rolled back.
	raw [][]byte
	// errs[i] is why drive i has no usable metadata: storage.ErrFileNotFound, a fault, or
	// meta.ErrCorrupt.
	errs []error
	// decoded[i] is drive i's metadata, whatever version it is (nil if none).
	decoded []*meta.Object
	// current is the version a read quorum agrees on (one drive's copy of it), or nil.
	current *meta.Object
	// holds[i] tells whether drive i holds current.
	holds []bool

	// The backing arrays of raw, errs, decoded and holds, and of the decoded copies (a set
	// has at most 16 drives), so that a version is one allocation rather than six.
	rawBuf     [16][]byte
	errsBuf    [16]error
	decodedBuf [16]*meta.Object
	holdsBuf   [16]bool
	objsBuf    [16]meta.Object

	// read is the fan-out call that fills raw and errs, kept here so that it needs no
	// closure of its own.
	read metaRead
}

// metaRead is readVersion's per-drive call: it reads the key's metadata from drive i into
// v.raw[i] and v.errs[i]. It holds the call's context only for the length of the fan-out.
type metaRead struct {
	ctx         context.Context
	bucket, key string
	v           *version
	// lat receives each drive's answer time (nil: not measured).
	lat *latencies
}

func (r *metaRead) call(i int, d storage.Drive) {
	began := time.Now()
	r.v.raw[i], r.v.errs[i] = d.ReadMeta(r.ctx, r.bucket, r.key)
	if r.lat != nil {
		r.lat.observe(i, time.Since(began))
	}
}

// readVersion reads the key's metadata from every drive and picks the version a read
// quorum agrees on: ErrObjectNotFound when too few drives have any version for one to be
// readable, ErrBucketNotFound when most drives have no such bucket, ErrReadQuorum when too
// few drives answered to tell. It first waits for the key's late writes (see lateWrites), so
// that the operation that reads it sees, and writes after, everything they did.
func (s *Set) readVersion(ctx context.Context, bucket, key string) (*version, error) {
	if err := s.late.wait(ctx, bucket, key); err != nil {
		return nil, err
	}
	return s.readVersionOpt(ctx, bucket, key, false)
}

// readVersionToRead is readVersion for a read that changes nothing (GET, HEAD) and for the
// writes that know about late writes (a put's commit, a delete): it does not wait for the
// drives that answer late (readMetaHedged) nor ask those with a late write of the key in
// flight, unless the others cannot decide; their errs say errSlowDrive or errLateWrite.
func (s *Set) readVersionToRead(ctx context.Context, bucket, key string) (*version, error) {
	v, err := s.readVersionOpt(ctx, bucket, key, true)
	if errors.Is(err, errSlowDrive) {
		// The drives left aside may hold what decides: ask every drive, waiting for all.
		return s.readVersion(ctx, bucket, key)
	}
	return v, err
}

// errSlowDrive stands for the answer of a drive that a read stopped waiting for. It is a
// drive fault (storage.ErrTimeout): the drive is not healed for it.
var errSlowDrive = fmt.Errorf("%w: the drive answers late and a read went on without it", storage.ErrTimeout)

// unread reports whether drive i's copy was left unread (errSlowDrive, errLateWrite): the
// drive may hold anything, so a write must not restore nor remove what it holds.
func (v *version) unread(i int) bool {
	return v != nil && (errors.Is(v.errs[i], errSlowDrive) || errors.Is(v.errs[i], errLateWrite))
}

// readVersionOpt reads and picks a version; hedge lets it leave slow drives aside
// (readMetaHedged) and the drives with a late write of the key unasked. When it left a
// drive aside and could not pick a version, the error wraps errSlowDrive.
func (s *Set) readVersionOpt(ctx context.Context, bucket, key string, hedge bool) (*version, error) {
	n := len(s.drives)
	v := &version{}
	v.raw, v.errs = v.rawBuf[:n], v.errsBuf[:n]
	v.decoded, v.holds = v.decodedBuf[:n], v.holdsBuf[:n]
	var slow, late uint32
	if hedge {
		slow = s.lat.slowMask()
		late = s.late.mask(bucket, key)
	}
	var leftAside bool
	if slow|late == 0 {
		v.read = metaRead{ctx: ctx, bucket: bucket, key: key, v: v, lat: &s.lat}
		s.fanOut(&v.read)
		v.read = metaRead{} // the version outlives the call; its context must not be kept
	} else {
		leftAside = s.readMetaHedged(ctx, bucket, key, v, slow, late)
	}
	// Decoding here rather than on the drives' goroutines lets every copy share the
	// strings, parts and metadata of the first (they differ only in their shard index).
	objs := v.objsBuf[:n]
	var like *meta.Object
	for i, b := range v.raw {
		if v.errs[i] != nil {
			v.raw[i] = nil
			continue
		}
		if err := objs[i].UnmarshalShared(b, like); err != nil {
			v.errs[i] = fmt.Errorf("%s: %w", s.drives[i], err)
			continue
		}
		v.decoded[i] = &objs[i]
		if like == nil {
			like = v.decoded[i]
		}
	}
	err := v.pick(s.k, bucket, key)
	if leftAside && errors.Is(err, objstore.ErrReadQuorum) {
		err = fmt.Errorf("%w: %w", errSlowDrive, err)
	}
	return v, err
}

// readMetaHedged reads the key's metadata from every drive into v.raw and v.errs, as
// readVersion's fan-out does, but waits for the drives in slow only until a bound past the
// others' answers (their time plus slowMargin): a drive it stops waiting for gets
// errSlowDrive, and its call finishes in the background, where it still feeds the latency
// measure (so a drive that recovers is waited for again). The drives in late (a write of
// the key still runs there) are not asked: they get errLateWrite. It reports whether it
// left a drive aside or unasked.
//
// Leaving a drive aside is what an offline drive does to a read: pick still needs k drives
// holding one version, and a subset of the answers never makes an older version readable
// where every answer shows a newer acknowledged one (a write quorum holds it, so fewer than
// k drives hold anything else). What it can do is find no readable version; the caller
// then asks again, waiting for every drive.
func (s *Set) readMetaHedged(ctx context.Context, bucket, key string, v *version, slow, late uint32) bool {
	type answer struct {
		i   int
		raw []byte
		err error
	}
	n := len(s.drives)
	// Buffered for every drive, so that a call left behind never blocks on its send.
	answers := make(chan answer, n)
	pending := uint32(1)<<n - 1
	for i, d := range s.drives {
		if late&(1<<i) != 0 {
			v.errs[i] = errLateWrite
			pending &^= 1 << i
			continue
		}
		go func() {
			began := time.Now()
			raw, err := d.ReadMeta(ctx, bucket, key)
			s.lat.observe(i, time.Since(began))
			answers <- answer{i, raw, err}
		}()
	}
	began := time.Now()
	left := awaitHedged(answers, func(a answer) (int, bool) {
		v.raw[a.i], v.errs[a.i] = a.raw, a.err
		return a.i, true
	}, pending, slow, 0, began)
	for i := range n {
		if left&(1<<i) != 0 {
			v.errs[i] = errSlowDrive
		}
	}
	return left != 0 || late != 0
}

// pick chooses the current version. Versions are grouped by VersionID; a group is readable
// when it has at least k members (its own k); of the readable groups the newest wins. A
// write that reached its write quorum leaves at most n-quorum < k drives with any other
// version, so at most one group is readable unless writes failed midway, when the newest
// complete one is the right answer.
func (v *version) pick(defaultK int, bucket, key string) error {
	type group struct {
		first *meta.Object
		count int
	}
	// At most one group per drive, and sets have at most 16 drives.
	var groupsBuf [16]group
	groups := groupsBuf[:0]
	for _, m := range v.decoded {
		if m == nil {
			continue
		}
		g := slices.IndexFunc(groups, func(g group) bool { return g.first.VersionID == m.VersionID })
		if g < 0 {
			g = len(groups)
			groups = append(groups, group{first: m})
		}
		groups[g].count++
	}
	var best *meta.Object
	for _, g := range groups {
		if g.count < g.first.Erasure.DataShards {
			continue
		}
		if best == nil || newer(g.first, best) {
			best = g.first
		}
	}
	if best != nil {
		v.current = best
		for i, m := range v.decoded {
			v.holds[i] = m != nil && m.VersionID == best.VersionID
		}
		return nil
	}

	n := len(v.decoded)
	k := defaultK
	for _, g := range groups {
		k = min(k, g.first.Erasure.DataShards)
	}
	var absent, noBucket int
	for _, err := range v.errs {
		switch {
		case errors.Is(err, storage.ErrVolumeNotFound):
			noBucket++
			absent++
		case errors.Is(err, storage.ErrFileNotFound), errors.Is(err, storage.ErrInvalidPath):
			absent++
		}
	}
	switch {
	case noBucket > n/2:
		return fmt.Errorf("%w: %s", objstore.ErrBucketNotFound, bucket)
	case absent > n-k:
		return fmt.Errorf("%w: %s/%s", objstore.ErrObjectNotFound, bucket, key)
	}
	if failed := nonNil(v.errs); len(failed) > 0 {
		return fmt.Errorf("%w: %s/%s: %w", objstore.ErrReadQuorum, bucket, key, errors.Join(failed...))
	}
	// Every drive answered, but no version is on k of them (versions that differ drive by
	// drive): errors.Join of no error is nil, which %w would print as %!w(<nil>).
	return fmt.Errorf("%w: %s/%s: %d versions on %d drives, none on %d", objstore.ErrReadQuorum, bucket, key, len(groups), n-absent, k)
}

// newer orders versions: later modification time first, then version id, so that every
// node picks the same one.
func newer(a, b *meta.Object) bool {
	if !a.ModTime.Equal(b.ModTime) {
		return a.ModTime.After(b.ModTime)
	}
	return bytes.Compare(a.VersionID[:], b.VersionID[:]) > 0
}

// needsHeal reports whether a drive that answered lacks the current version (it has none,
// another one, or a corrupt one). Drives that did not answer are healed when they return.
func (v *version) needsHeal() bool {
	for i := range v.holds {
		if !v.holds[i] && !storage.IsDriveFault(v.errs[i]) {
			return true
		}
	}
	return false
}

// objectInfo describes a version of an object from its metadata, as the latest (a caller
// that knows better sets IsLatest); its Parts are appended to parts (nil, or a caller's
// buffer for them).
func objectInfo(bucket, key string, m *meta.Object, parts []objstore.PartInfo) objstore.ObjectInfo {
	info := objstore.ObjectInfo{
		Bucket:   bucket,
		Key:      key,
		Size:     m.Size,
		ModTime:  m.ModTime,
		ETag:     m.ETag,
		Metadata: m.Metadata,
		Version: objstore.VersionInfo{
			VersionID:    versionString(m.ID),
			IsLatest:     true,
			DeleteMarker: m.DeleteMarker,
			Lock:         lockOf(m),
		},
	}
	if len(m.Parts) > 0 {
		info.Parts = slices.Grow(parts[:0], len(m.Parts))
		for _, p := range m.Parts {
			info.Parts = append(info.Parts, objstore.PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksum: p.Checksum, ModTime: m.ModTime})
		}
	}
	return info
}

// checkPreconditions tests a write's preconditions against the current version (nil if
// there is none).
func checkPreconditions(p objstore.Preconditions, current *meta.Object) error {
	if p.IfNoneMatch && current != nil {
		return fmt.Errorf("%w: an object exists at the key (If-None-Match: *)", objstore.ErrPreconditionFailed)
	}
	if p.IfMatch != "" {
		if current == nil {
			return fmt.Errorf("%w: no object at the key (If-Match)", objstore.ErrObjectNotFound)
		}
		if !etagMatches(p.IfMatch, current.ETag) {
			return fmt.Errorf("%w: ETag %q does not match %q", objstore.ErrPreconditionFailed, current.ETag, p.IfMatch)
		}
	}
	return nil
}

// etagMatches compares an If-Match list ("*", or comma-separated, possibly quoted ETags)
// with an ETag.
func etagMatches(list, etag string) bool {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		item = strings.TrimPrefix(item, "W/")
		if item == "*" || strings.Trim(item, `"`) == etag {
			return true
		}
	}
	return false
}

// StatObject returns the current version's information: a *objstore.DeleteMarkerError
// (an ErrObjectNotFound) when the latest version is a delete marker.
func (s *Set) StatObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	return s.StatVersion(ctx, bucket, key, "")
}
