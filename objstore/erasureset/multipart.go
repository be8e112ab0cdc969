package erasureset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Multipart uploads live in the system volume until completed:
//
//	multipart/<bucket>/<sha256 of key>/<upload id>/upload       the upload record
//	multipart/<bucket>/<sha256 of key>/<upload id>/parts/<n>    part n's record
//	multipart/<bucket>/<sha256 of key>/<upload id>/data/part.n  part n's shard
//
// Completion turns the data directory into the object's data directory with one rename per
// drive, so that no part is copied.

const (
	// MinPartSize is S3's lower bound on every part but the last.
	MinPartSize = 5 << 20
	// MaxPartNumber is S3's highest part number.
	MaxPartNumber = 10000
)

// UploadLockName is the namespace-lock name of an upload; PartLockName of one of its parts.
func UploadLockName(bucket, key, uploadID string) string {
	return LockName(bucket, key) + "\x00" + uploadID
}

// PartLockName is the namespace-lock name of one part of an upload.
func PartLockName(bucket, key, uploadID string, part int) string {
	return UploadLockName(bucket, key, uploadID) + "\x00" + strconv.Itoa(part)
}

func uploadsDir(bucket string) string { return uploadsRoot + "/" + bucket }

func uploadDir(bucket, key, uploadID string) string {
	sum := sha256.Sum256([]byte(key))
	return uploadsDir(bucket) + "/" + hex.EncodeToString(sum[:]) + "/" + uploadID
}

// validUploadID reports whether id has the form NewMultipartUpload gives (32 hex digits),
// which keeps any other string away from the file system.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// NewMultipartUpload records a new upload on every drive.
func (s *Set) NewMultipartUpload(ctx context.Context, bucket, key string, opts objstore.PutOptions) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if _, err := s.BucketCreated(ctx, bucket); err != nil {
		return "", err
	}
	id := hexID(newID())
	u := meta.Upload{
		Key:       key,
		UploadID:  id,
		Initiated: s.cfg.Now().UTC(),
		Erasure: meta.Erasure{
			DataShards:   s.k,
			ParityShards: s.m,
			BlockSize:    s.cfg.BlockSize,
			Distribution: distribution(key, len(s.drives)),
			Bitrot:       uint8(s.cfg.Bitrot),
		},
		Metadata: opts.Metadata,
	}
	dir := uploadDir(bucket, key, id)
	errs := s.each(func(i int, d storage.Drive) error {
		du := u
		du.Erasure.Index = int(u.Erasure.Distribution[i])
		return d.WriteFile(ctx, storage.SysVolume, dir+"/upload", du.Marshal())
	})
	if countNil(errs) < WriteQuorum(s.k, s.m) {
		s.each(func(i int, d storage.Drive) error {
			return d.Delete(context.WithoutCancel(ctx), storage.SysVolume, dir, true)
		})
		return "", reduceErr(errs, objstore.ErrWriteQuorum)
	}
	return id, nil
}

// readUpload reads an upload's record from every drive: ErrNoSuchUpload unless a read
// quorum has it. holds[i] tells which drives do.
func (s *Set) readUpload(ctx context.Context, bucket, key, uploadID string) (*meta.Upload, []bool, error) {
	if !validUploadID(uploadID) {
		return nil, nil, fmt.Errorf("%w: %q", objstore.ErrNoSuchUpload, uploadID)
	}
	u, holds, leftAside, err := s.readUploadOpt(ctx, bucket, key, uploadID, true)
	if err != nil && leftAside {
		// A slow drive left unread may be what decides: ask every drive.
		u, holds, _, err = s.readUploadOpt(ctx, bucket, key, uploadID, false)
	}
	return u, holds, err
}

// readUploadOpt is readUpload; hedge lets it leave the drives the latency measure marks
// slow unread, as a GET's read does (their holds entry is false), and then reports
// leftAside.
func (s *Set) readUploadOpt(ctx context.Context, bucket, key, uploadID string, hedge bool) (u *meta.Upload, holds []bool, leftAside bool, err error) {
	dir := uploadDir(bucket, key, uploadID)
	uploads := make([]*meta.Upload, len(s.drives))
	read := func(i int, d storage.Drive) error {
		b, err := d.ReadFile(ctx, storage.SysVolume, dir+"/upload")
		if err != nil {
			return err
		}
		rec, err := meta.UnmarshalUpload(b)
		if err == nil && (rec.Key != key || rec.UploadID != uploadID) {
			err = fmt.Errorf("%w: upload record names another upload", meta.ErrCorrupt)
		}
		uploads[i] = rec
		return err
	}
	var errs []error
	if hedge {
		errs = s.eachHedged(nil, hedgedWrite{unordered: true}, read)
		leftAside = slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, errLateWrite) })
	} else {
		errs = s.each(read)
	}
	holds = make([]bool, len(s.drives))
	var first *meta.Upload
	absent := 0
	for i, err := range errs {
		holds[i] = err == nil
		if err == nil && first == nil {
			first = uploads[i]
		}
		if errors.Is(err, storage.ErrFileNotFound) {
			absent++
		}
	}
	if first != nil && countTrue(holds) >= first.Erasure.DataShards {
		return first, holds, leftAside, nil
	}
	if absent > len(s.drives)-s.k {
		return nil, nil, leftAside, fmt.Errorf("%w: %s", objstore.ErrNoSuchUpload, uploadID)
	}
	return nil, nil, leftAside, reduceErr(errs, objstore.ErrReadQuorum)
}

// PutObjectPart stores one part. It encodes the part into the drives' staging areas without
// any lock, then calls lock (which takes the upload's read lock and the part's write lock)
// and, holding them, checks that the upload still exists and moves the part into it. A
// stalled client therefore never holds up the upload's completion or abort; a part whose
// upload ended while it arrived fails with ErrNoSuchUpload and leaves nothing behind. A nil
// lock means that the caller already holds those locks.
func (s *Set) PutObjectPart(ctx context.Context, bucket, key, uploadID string, number int, r io.Reader, size int64, opts objstore.PartOptions, lock CommitLock) (objstore.PartInfo, error) {
	if number < 1 || number > MaxPartNumber {
		return objstore.PartInfo{}, fmt.Errorf("%w: part number %d not in 1..%d", objstore.ErrInvalidArgument, number, MaxPartNumber)
	}
	u, _, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	e := u.Erasure
	codec, err := s.codec(e.DataShards, e.ParityShards, e.BlockSize, erasureAlg(e.Bitrot))
	if err != nil {
		return objstore.PartInfo{}, err
	}
	if r == nil {
		r = eofReader{}
	}
	body, etag := s.md5Of(r, size, opts.ContentMD5)
	defer etag.Close()
	staging := stagingDir(newID())
	name := layout.PartName(number)
	written, staged, files, err := s.encodeStagedHedged(ctx, codec, e.Distribution, staging, name, body, size, true)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	cleanup := context.WithoutCancel(ctx)
	// A slow drive still writing its shard does not get the part (the completion leaves
	// it out and heals it): its staging goes once written.
	if slices.Contains(files.late, true) {
		s.removeStagedAfter(cleanup, files.late, staging, files.wait)
		for i, late := range files.late {
			staged[i] = staged[i] && !late
		}
	}
	defer s.removeStaged(cleanup, staged, staging)
	sum := opts.Checksum
	if opts.FinalChecksum != nil {
		if v := opts.FinalChecksum(); v != "" {
			sum = v
		}
	}
	ctx, unlock, err := lock.take(ctx)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	defer unlock()
	// The upload may have been completed or aborted while the part arrived: moving the part
	// in then would bring back a piece of it.
	_, holds, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	rec := meta.PartRecord{
		Part:    meta.Part{Number: number, Size: written, ETag: etag.Hex(), Checksum: sum},
		ModTime: time.Now().UTC(),
	}
	dir := uploadDir(bucket, key, uploadID)
	// A drive with an earlier part's move still running late is left out: two moves of
	// one part number must not interleave there.
	lateMoves := s.late.mask(storage.SysVolume, dir)
	into := make([]bool, len(staged))
	for i := range into {
		into[i] = staged[i] && holds[i] && lateMoves&(1<<i) == 0
	}
	// A slow drive's move is not waited for (late, recorded against the upload's
	// directory: its completion and abort wait for it). If it fails, the drive misses the
	// part, which the completion then leaves out, as a drive that failed here.
	hedge := hedgedWrite{bucket: storage.SysVolume, key: dir, quorum: WriteQuorum(e.DataShards, e.ParityShards),
		lateDone: func(i int, err error) {
			if err != nil {
				s.dirty[i].Store(true)
			}
		}}
	errs := s.eachHedged(into, hedge, func(i int, d storage.Drive) error {
		if err := d.RenameFile(ctx, storage.SysVolume, staging+"/"+name, storage.SysVolume, dir+"/data/"+name); err != nil {
			return err
		}
		return d.WriteFile(ctx, storage.SysVolume, dir+"/parts/"+strconv.Itoa(number), rec.Marshal())
	})
	if countNil(errs) < hedge.quorum {
		return objstore.PartInfo{}, reduceErr(errs, objstore.ErrWriteQuorum)
	}
	for i, err := range errs {
		if errors.Is(err, errLateWrite) {
			staged[i] = false // the late move's: not removed under it
		}
	}
	s.markDirty(errs)
	return partInfo(rec), nil
}

func partInfo(r meta.PartRecord) objstore.PartInfo {
	return objstore.PartInfo{Number: r.Number, Size: r.Size, ETag: r.ETag, ModTime: r.ModTime, Checksum: r.Checksum}
}

// readPart reads part number's record from every drive that holds the upload and returns
// the record a read quorum agrees on (by ETag) and which drives hold it.
func (s *Set) readPart(ctx context.Context, dir string, number, k int, holdsUpload []bool) (*meta.PartRecord, []bool) {
	recs := make([]*meta.PartRecord, len(s.drives))
	s.eachOf(holdsUpload, func(i int, d storage.Drive) error {
		b, err := d.ReadFile(ctx, storage.SysVolume, dir+"/parts/"+strconv.Itoa(number))
		if err == nil {
			recs[i], _ = meta.UnmarshalPart(b)
		}
		return nil
	})
	count := make(map[string]int)
	for _, r := range recs {
		if r != nil {
			count[r.ETag]++
		}
	}
	holds := make([]bool, len(s.drives))
	for _, r := range recs {
		if r != nil && count[r.ETag] >= k {
			for i, o := range recs {
				holds[i] = o != nil && o.ETag == r.ETag
			}
			return r, holds
		}
	}
	return nil, holds
}

// ListObjectParts lists an upload's parts above marker.
func (s *Set) ListObjectParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (objstore.ListPartsResult, error) {
	u, holds, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return objstore.ListPartsResult{}, err
	}
	dir := uploadDir(bucket, key, uploadID)
	lists := make([][]string, len(s.drives))
	s.eachOf(holds, func(i int, d storage.Drive) error {
		lists[i], _ = d.ListDir(ctx, storage.SysVolume, dir+"/parts")
		return nil
	})
	var numbers []int
	for _, l := range lists {
		for _, name := range l {
			if n, err := strconv.Atoi(name); err == nil && n > marker {
				numbers = append(numbers, n)
			}
		}
	}
	slices.Sort(numbers)
	numbers = slices.Compact(numbers)
	res := objstore.ListPartsResult{Metadata: u.Metadata, Initiated: u.Initiated}
	for _, n := range numbers {
		if maxParts > 0 && len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		rec, _ := s.readPart(ctx, dir, n, u.Erasure.DataShards, holds)
		if rec == nil {
			continue
		}
		res.Parts = append(res.Parts, partInfo(*rec))
		res.NextPartNumberMarker = n
	}
	return res, nil
}

// CompleteMultipartUpload assembles an upload into its object. The caller holds the upload's
// write lock; the parts are checked and the object's metadata built under it alone, and lock
// is called to take the key's write lock only for the commit (a nil lock: the caller holds it
// already). Lock order: an upload's lock before its key's.
func (s *Set) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []objstore.CompletePart, opts objstore.CompleteOptions, lock CommitLock) (objstore.ObjectInfo, error) {
	// A part's late move (PutObjectPart) must not land in the upload's directory once the
	// completion moved its parts away or removed it.
	if validUploadID(uploadID) {
		if err := s.late.wait(ctx, storage.SysVolume, uploadDir(bucket, key, uploadID)); err != nil {
			return objstore.ObjectInfo{}, err
		}
	}
	u, holds, err := s.readUpload(ctx, bucket, key, uploadID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return objstore.ObjectInfo{}, fmt.Errorf("%w: no parts", objstore.ErrInvalidPart)
	}
	for i, p := range parts {
		if p.Number < 1 || p.Number > MaxPartNumber {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: part number %d", objstore.ErrInvalidPart, p.Number)
		}
		if i > 0 && p.Number <= parts[i-1].Number {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: part %d after part %d", objstore.ErrInvalidPartOrder, p.Number, parts[i-1].Number)
		}
	}
	dir := uploadDir(bucket, key, uploadID)
	e := u.Erasure
	ready := slices.Clone(holds) // drives holding every listed part
	m := &meta.Object{
		Erasure:  e,
		Metadata: maps.Clone(u.Metadata),
	}
	if len(opts.Metadata) > 0 {
		if m.Metadata == nil {
			m.Metadata = make(map[string]string, len(opts.Metadata))
		}
		maps.Copy(m.Metadata, opts.Metadata)
	}
	etags := md5.New()
	for i, p := range parts {
		rec, on := s.readPart(ctx, dir, p.Number, e.DataShards, holds)
		if rec == nil || rec.ETag != strings.Trim(p.ETag, `"`) {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: part %d with ETag %s", objstore.ErrInvalidPart, p.Number, p.ETag)
		}
		if i < len(parts)-1 && rec.Size < MinPartSize {
			return objstore.ObjectInfo{}, fmt.Errorf("%w: part %d is %d bytes", objstore.ErrEntityTooSmall, p.Number, rec.Size)
		}
		for d := range ready {
			ready[d] = ready[d] && on[d]
		}
		sum, _ := hex.DecodeString(rec.ETag)
		etags.Write(sum)
		m.Parts = append(m.Parts, rec.Part)
		m.Size += rec.Size
	}
	m.ETag = hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	wq := WriteQuorum(e.DataShards, e.ParityShards)
	if countTrue(ready) < wq {
		return objstore.ObjectInfo{}, fmt.Errorf("%w: %d drives hold every part", objstore.ErrWriteQuorum, countTrue(ready))
	}

	if err := s.precheck(ctx, bucket, key, opts.Preconditions); err != nil {
		return objstore.ObjectInfo{}, err
	}
	listed := make(map[string]bool, len(parts))
	for _, p := range parts {
		listed[layout.PartName(p.Number)] = true
	}
	// Parts uploaded but not listed must not ride along into the object's data directory.
	s.eachOf(ready, func(i int, d storage.Drive) error {
		names, _ := d.ListDir(ctx, storage.SysVolume, dir+"/data")
		for _, name := range names {
			if !listed[name] {
				d.Delete(ctx, storage.SysVolume, dir+"/data/"+name, true)
			}
		}
		return nil
	})
	ctx, unlock, err := lock.take(ctx)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	before, err := s.commitUpload(ctx, bucket, key, m, opts, ready, dir+"/data")
	unlock()
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	cleanup := context.WithoutCancel(ctx)
	s.removeReplaced(cleanup, bucket, before, m)
	s.each(func(i int, d storage.Drive) error { return d.Delete(cleanup, storage.SysVolume, dir, true) })
	return objectInfo(bucket, key, m, nil), nil
}

// commitUpload makes the assembled upload m the key's current version, its data the
// directory dataDir on the drives marked in ready; the caller holds the key's write lock.
// It returns the version it replaced.
func (s *Set) commitUpload(ctx context.Context, bucket, key string, m *meta.Object, opts objstore.CompleteOptions, ready []bool, dataDir string) (*version, error) {
	before, err := s.readBefore(ctx, bucket, key, opts.Preconditions)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	m.VersionID, m.ModTime, m.DataDir = newID(), now, newDataDirID(now)
	if err := newVersion(before.current, m, opts.Versioning, opts.Lock, now); err != nil {
		return nil, err
	}
	if err := s.commit(ctx, bucket, key, m, before, nil, ready, dataDir, nil); err != nil {
		return nil, err
	}
	return before, nil
}

// AbortMultipartUpload removes an upload and its parts. The caller holds the upload's
// write lock.
func (s *Set) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if validUploadID(uploadID) {
		if err := s.late.wait(ctx, storage.SysVolume, uploadDir(bucket, key, uploadID)); err != nil {
			return err
		}
	}
	if _, _, err := s.readUpload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	_, err := s.removeUploadDir(ctx, bucket, key, uploadID)
	return err
}

// ListMultipartUploads returns every upload of the bucket a read quorum of drives holds,
// sorted by key, then initiation time, then id.
func (s *Set) ListMultipartUploads(ctx context.Context, bucket string) ([]objstore.UploadInfo, error) {
	holders, err := s.uploadHolders(ctx, bucket)
	if err != nil {
		return nil, err
	}
	var out []objstore.UploadInfo
	for path, on := range holders {
		if len(on) < s.k {
			continue
		}
		u, err := s.readUploadRecord(ctx, s.drives[on[0]], bucket, path)
		if err != nil {
			continue
		}
		out = append(out, objstore.UploadInfo{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
	}
	slices.SortFunc(out, compareUploads)
	return out, nil
}

func compareUploads(a, b objstore.UploadInfo) int {
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	if c := a.Initiated.Compare(b.Initiated); c != 0 {
		return c
	}
	return strings.Compare(a.UploadID, b.UploadID)
}
