package erasureset

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/md5lanes"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

// CommitLock takes the namespace locks a write needs for its commit (the key's write lock
// and its bucket's read lock) and returns their release. A set calls it once a write's data
// is staged, just before the commit, so that no lock is held while a client's body arrives.
// The context it returns carries what the grant fences (see Locker) and is the one the
// commit runs with.
type CommitLock func(ctx context.Context) (context.Context, nslock.Unlock, error)

// take calls the lock, if there is one; a nil CommitLock means that the caller holds the
// locks already (and ctx carries their grant), and its release does nothing.
func (l CommitLock) take(ctx context.Context) (context.Context, nslock.Unlock, error) {
	if l == nil {
		return ctx, func() {}, nil
	}
	return l(ctx)
}

// PutObject stores an object. It stages the object's data first (encoded into the drives'
// staging areas, or into memory for an inline object) without any lock, then calls lock and,
// holding what it took, reads the current version, tests the preconditions against it and
// commits. A write that loses its precondition at commit removes what it staged. A nil lock
// means that the caller already holds the key's write lock.
func (s *Set) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, opts objstore.PutOptions, lock CommitLock) (objstore.ObjectInfo, error) {
	st, err := s.stagePut(ctx, bucket, key, r, size, opts)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	// The grant's context is the commit's; a lock that failed returns none, so what was
	// staged is discarded under the caller's.
	granted, unlock, err := lock.take(ctx)
	if err != nil {
		st.discard(ctx)
		return objstore.ObjectInfo{}, err
	}
	ctx = granted
	before, err := st.commit(ctx)
	unlock()
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	s.removeReplaced(context.WithoutCancel(ctx), bucket, before, st.m)
	return objectInfo(bucket, key, st.m, nil), nil
}

// stagedPut is an object whose data is encoded, waiting for its commit.
type stagedPut struct {
	s           *Set
	bucket, key string
	// m is the object's metadata but for what the commit decides: its version id, data
	// directory and (unless the caller gave one) modification time.
	m    *meta.Object
	opts objstore.PutOptions
	// shards are an inline object's framed shards, one per shard index; nil otherwise.
	shards [][]byte
	// staged marks the drives holding their shard in the staging directory stagingID;
	// files tells, for a drive whose file was still being written (files.late), whether it
	// was in the end (files.wait).
	staged    []bool
	stagingID [16]byte
	files     *shardFiles
}

// stagedWait returns what commit waits for before it commits drive i's staged data: the
// end of the drive's file when encoding did not wait for it; nil when none.
func (st *stagedPut) stagedWait() func(i int) error {
	if st.files == nil || !slices.Contains(st.files.late, true) {
		return nil
	}
	return st.files.wait
}

// stagePut reads and encodes a put's body. An object too large to be inline is written to
// the drives' staging areas; before that, the key is read once to refuse a missing bucket or
// a failed precondition without taking the body (the commit tests them again).
func (s *Set) stagePut(ctx context.Context, bucket, key string, r io.Reader, size int64, opts objstore.PutOptions) (*stagedPut, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	m := &meta.Object{
		Erasure: meta.Erasure{
			DataShards:   s.k,
			ParityShards: s.m,
			BlockSize:    s.cfg.BlockSize,
			Distribution: distribution(key, len(s.drives)),
			Bitrot:       uint8(s.cfg.Bitrot),
		},
		Metadata: opts.Metadata,
	}
	codec, err := s.codec(s.k, s.m, s.cfg.BlockSize, s.cfg.Bitrot)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = eofReader{}
	}
	body, etag := s.md5Of(r, size, opts.ContentMD5)
	defer etag.Close()

	// A versioned bucket's versions are never inline: a key's record would hold the data
	// of every version (meta's doc).
	small, inline, err := s.readInline(body, size, opts.Versioning == objstore.Unversioned)
	if err != nil {
		return nil, err
	}
	st := &stagedPut{s: s, bucket: bucket, key: key, m: m, opts: opts}
	if inline {
		m.Inline = true
		m.Size = int64(len(small))
		st.shards, err = s.encodeInline(ctx, codec, small)
	} else {
		if err := s.precheck(ctx, bucket, key, opts.Preconditions); err != nil {
			return nil, err
		}
		st.stagingID = newID()
		var src io.Reader = body
		if small != nil {
			src = io.MultiReader(bytes.NewReader(small), body)
		}
		// The shards need be durable only once the commit names them, and a drive whose
		// commit makes them durable with its metadata saves their syncs (one journal
		// commit per drive and object instead of four).
		sctx := storage.WithSyncAtCommit(ctx)
		m.Size, st.staged, st.files, err = s.encodeStagedHedged(sctx, codec, m.Erasure.Distribution, stagingDir(st.stagingID), layout.PartName(1), src, size, true)
	}
	if err != nil {
		return nil, err
	}
	m.ETag = etag.Hex()
	m.Parts = []meta.Part{{Number: 1, Size: m.Size, ETag: m.ETag}}
	return st, nil
}

// precheck reads the key, without its lock, to refuse early a write that would fail at its
// commit: its bucket is missing, or its preconditions fail against what is there now.
func (s *Set) precheck(ctx context.Context, bucket, key string, p objstore.Preconditions) error {
	v, err := s.readVersionToRead(ctx, bucket, key)
	switch {
	case errors.Is(err, objstore.ErrBucketNotFound):
		return err
	case err != nil && !errors.Is(err, objstore.ErrObjectNotFound):
		return nil // the commit decides
	}
	return checkPreconditions(p, liveOf(v.current))
}

// readBefore reads the version a write replaces, under the key's write lock. A version that
// cannot be read is an error unless the write is unconditional and so does not need it.
// Like a GET, it does not wait for slow drives nor ask those with a late write of the key
// (readVersionToRead): their copies are unread (version.unread), which commit allows for.
func (s *Set) readBefore(ctx context.Context, bucket, key string, p objstore.Preconditions) (*version, error) {
	before, err := s.readVersionToRead(ctx, bucket, key)
	switch {
	case errors.Is(err, objstore.ErrObjectNotFound):
	case errors.Is(err, objstore.ErrReadQuorum) && p == (objstore.Preconditions{}):
	case err != nil:
		return nil, err
	}
	if err := checkPreconditions(p, liveOf(before.current)); err != nil {
		return nil, err
	}
	return before, nil
}

// commit makes the staged object the key's current version; the caller holds the key's
// write lock. It returns the version it replaced, whose data the caller removes once it has
// released the lock (readers of that version pinned it under the lock). Whatever the
// outcome, nothing staged is left behind.
func (st *stagedPut) commit(ctx context.Context) (*version, error) {
	s, m := st.s, st.m
	before, err := s.readBefore(ctx, st.bucket, st.key, st.opts.Preconditions)
	if err != nil {
		st.discard(ctx)
		return nil, err
	}
	// The version's identity and time are those of its commit, so that of two writers of
	// one key the one that commits last is also the newer version.
	now := time.Now().UTC()
	m.VersionID = newID()
	m.ModTime = st.opts.ModTime
	if m.ModTime.IsZero() {
		m.ModTime = now
	}
	if !m.Inline {
		// Named at commit: the collector tells a data directory's age from its name, and
		// a slow upload's staging must not look old once in place.
		m.DataDir = newDataDirID(now)
	}
	if err := newVersion(before.current, m, st.opts.Versioning, st.opts.Lock, now); err != nil {
		st.discard(ctx)
		return nil, err
	}
	if s.cfg.BeforeCommit != nil {
		s.cfg.BeforeCommit(st.bucket, st.key)
	}
	cctx := ctx
	if st.staged != nil {
		// The shards were staged under this mark (stagePut): the drives that left their
		// data's wait to the commit must know to do it there.
		cctx = storage.WithSyncAtCommit(ctx)
	}
	if err := s.commit(cctx, st.bucket, st.key, m, before, st.shards, st.staged, stagingDir(st.stagingID), st.stagedWait()); err != nil {
		return nil, err
	}
	return before, nil
}

// discard removes what was staged for a write that will not commit.
func (st *stagedPut) discard(ctx context.Context) {
	if st.staged != nil {
		st.s.removeStagedAfter(context.WithoutCancel(ctx), st.staged, stagingDir(st.stagingID), st.stagedWait())
	}
}

// eofReader is the body of a put given no reader: empty.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// bodyMD5 is a body's MD5, hashed while the body is read, or given by the caller. It is
// written to by the goroutine that reads the body.
type bodyMD5 struct {
	src   *md5lanes.Hash // nil when known
	known []byte
	// h takes the body's bytes and ends the hash, chosen at the first write: the lane
	// itself, which hashes on its server's goroutine and copies what it is given, or an
	// asyncHash feeding the crypto/md5 hash from a goroutine of its own.
	h digest
}

// digest is a hash being computed: written to, Sum once the body is read, Close in any
// case.
type digest interface {
	io.Writer
	Sum(b []byte) []byte
	Close()
}

// md5Of returns r, reading through which gives the returned MD5 the body's, unless known,
// the caller's digest of the body (objstore.PutOptions.ContentMD5), is 16 bytes long: then
// r itself and that digest. A body that may be large (size over the inline limit, or
// unknown) takes its hash from the set's MD5 source, which may give it a lane when many
// are hashed at once. Close releases the hash.
func (s *Set) md5Of(r io.Reader, size int64, known []byte) (io.Reader, *bodyMD5) {
	if len(known) == md5.Size {
		return r, &bodyMD5{known: known}
	}
	src := s.cfg.MD5
	if size >= 0 && size <= s.cfg.InlineLimit {
		src = nil // a small body gains nothing from a lane, and is not counted
	}
	b := &bodyMD5{src: src.Hash()}
	return &hashingReader{r: r, h: b}, b
}

// Write hashes p, choosing how at the first call.
func (b *bodyMD5) Write(p []byte) (int, error) {
	if b.h == nil {
		b.choose()
	}
	return b.h.Write(p)
}

func (b *bodyMD5) choose() {
	if b.src.Choose() {
		b.h = b.src
		return
	}
	b.h = newAsyncHash(b.src)
}

// Hex returns the MD5 in hex, once the body has been read to its end.
func (b *bodyMD5) Hex() string {
	if b.src == nil {
		return hex.EncodeToString(b.known)
	}
	if b.h == nil {
		b.choose() // an empty body
	}
	return hex.EncodeToString(b.h.Sum(nil))
}

// Close releases the hash.
func (b *bodyMD5) Close() {
	switch {
	case b.h != nil:
		b.h.Close()
	case b.src != nil:
		b.src.Close()
	}
}

// hashingReader feeds what it reads to a hash (the ETag's MD5).
type hashingReader struct {
	r io.Reader
	h io.Writer
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

// readInline reads the whole body when it is small enough to be stored inline. It returns
// the bytes read and whether they are the whole object; when they are not (the object is
// larger, or of unknown size and larger than the limit), they are the first bytes of it.
func (s *Set) readInline(r io.Reader, size int64, allowed bool) ([]byte, bool, error) {
	limit := s.cfg.InlineLimit
	if limit < 0 || size > limit || !allowed {
		return nil, false, nil
	}
	want := limit + 1
	if size >= 0 {
		want = size + 1 // one more, to see the end (or a body longer than announced)
	}
	buf := make([]byte, want)
	n, err := readFull(r, buf)
	switch {
	case err == io.EOF && size >= 0 && int64(n) < size:
		return nil, false, fmt.Errorf("%w: %d of %d bytes", objstore.ErrIncompleteBody, n, size)
	case err == io.EOF:
		return buf[:n], true, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading the body: %w", err)
	case size >= 0:
		return nil, false, fmt.Errorf("%w: more than %d bytes", objstore.ErrEntityTooLarge, size)
	default:
		return buf[:n], false, nil
	}
}

// readFull reads until buf is full or r fails; unlike io.ReadFull it returns io.EOF, not
// io.ErrUnexpectedEOF, when r ends early, and any other error as it is.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// encodeInline erasure-codes a small object into one framed shard per drive position.
func (s *Set) encodeInline(ctx context.Context, codec *erasure.Codec, data []byte) ([][]byte, error) {
	n := codec.TotalShards()
	bufs := make([]bytes.Buffer, n)
	writers := make([]io.Writer, n)
	for i := range writers {
		bufs[i].Grow(int(codec.ShardFileSize(int64(len(data)))))
		writers[i] = &bufs[i]
	}
	if _, _, err := codec.Encode(ctx, bytes.NewReader(data), int64(len(data)), writers, n); err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	shards := make([][]byte, n)
	for i := range bufs {
		shards[i] = bufs[i].Bytes()
	}
	return shards, nil
}

// encodeStagedHedged erasure-codes r into the file dir/name of the system volume on every
// drive, one shard each, writing all drives in parallel. It returns the object's size and
// which drives hold their shard; below write quorum it removes what it staged and fails.
// With hedge, it does not wait for the drives the latency measure marks slow to end their
// file once a write quorum has (finishHedged): those are marked staged, and files.wait(i)
// tells whether their file was written (files.late marks them).
func (s *Set) encodeStagedHedged(ctx context.Context, codec *erasure.Codec, dist []uint8, dir, name string, r io.Reader, size int64, hedge bool) (int64, []bool, *shardFiles, error) {
	path := dir + "/" + name
	n := len(s.drives)
	shardSize := int64(-1)
	if size >= 0 {
		shardSize = codec.ShardFileSize(size)
	}
	files := s.createShardFiles(ctx, nil, dist, path, shardSize)
	wq := WriteQuorum(codec.DataShards(), codec.ParityShards())
	written, shardErrs, err := codec.Encode(ctx, r, size, files.writers, wq)
	var slow uint32
	if hedge {
		slow = s.lat.slowMask()
	}
	files.finishHedged(err, slow, wq)
	createErrs := make([]error, n)
	for i := range createErrs {
		if !files.late[i] {
			createErrs[i] = files.errs[i]
		}
	}

	staged := make([]bool, n)
	for i := range staged {
		staged[i] = createErrs[i] == nil && shardErrs[dist[i]] == nil
	}
	if (err == nil && countTrue(staged) < wq) || errors.Is(err, erasure.ErrWriteQuorum) {
		// The drives' own errors say more than the codec's "quorum lost": a full drive
		// is ErrStorageFull.
		err = reduceErr(createErrs, objstore.ErrWriteQuorum)
	}
	if err != nil {
		// Every drive was given the directory, and a drive whose file failed may still
		// hold it (empty, or with a partial file).
		files.wg.Wait() // no drive may still be writing what is removed
		s.removeStaged(context.WithoutCancel(ctx), nil, dir)
		return 0, nil, nil, mapEncodeErr(err, size)
	}
	s.markDirty(createErrs)
	return written, staged, files, nil
}

var errDriveDone = errors.New("drive stopped reading")

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// mapEncodeErr turns the codec's errors about the body into the object layer's.
func mapEncodeErr(err error, size int64) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) && size >= 0:
		return fmt.Errorf("%w: %w", objstore.ErrIncompleteBody, err)
	case errors.Is(err, erasure.ErrSizeExceeded):
		return fmt.Errorf("%w: %w", objstore.ErrEntityTooLarge, err)
	case errors.Is(err, erasure.ErrWriteQuorum):
		return fmt.Errorf("%w: %w", objstore.ErrWriteQuorum, err)
	}
	return err
}

// removeStagedAfter is removeStaged, but a drive for which wait is given (not nil) has
// the directory removed once wait(i) returned, in the background: its file may still be
// being written.
func (s *Set) removeStagedAfter(ctx context.Context, which []bool, dir string, wait func(i int) error) {
	if wait == nil {
		s.removeStaged(ctx, which, dir)
		return
	}
	for i := range s.drives {
		if which != nil && !which[i] {
			continue
		}
		go func() {
			wait(i)
			s.removeStaged(ctx, oneDrive(len(s.drives), i), dir)
		}()
	}
}

// removeStaged removes a staging directory from the drives marked in which (nil: all).
func (s *Set) removeStaged(ctx context.Context, which []bool, dir string) {
	s.each(func(i int, d storage.Drive) error {
		if which != nil && !which[i] {
			return nil
		}
		return d.Delete(ctx, storage.SysVolume, dir, true)
	})
}

// commit makes record m visible on every drive that can take it: with inline shards (one
// per shard index), with the staged directory stagingDir on the drives marked in staged,
// or (both nil) with no new data, on every drive: a record whose versions' data is in
// place. Each drive's copy carries its own inline shards of the versions m keeps from
// before.
// Below write quorum it restores what each drive held before and fails; above, it queues a
// heal for the drives it missed. The caller removes the data of the version it replaced
// (removeReplaced), after releasing the key's lock.
//
// stagedWait, if not nil, is called before a drive's staged data is committed, and that
// drive is committed only if it returns nil: its staged file may still be being written
// (stagedPut.stagedWait).
func (s *Set) commit(ctx context.Context, bucket, key string, m *meta.Object, before *version, shards [][]byte, staged []bool, stagingDir string, stagedWait func(i int) error) error {
	// Once begun, a commit runs to its end whatever the caller's context does (each drive
	// call is still bounded by its drive's timeout). Were it cancelled midway, the drive
	// calls it stopped waiting for would run on unseen by the rollback below, and the write
	// would show after it had failed, or split the drives so that no version is readable.
	ctx = context.WithoutCancel(ctx)
	n := len(s.drives)
	// A drive with a late write of the key in flight is left out, as an offline drive is,
	// and healed once that write ends (see lateWrites); so is a drive whose copy was not
	// read when the record must carry that copy's own inline shards.
	late := s.late.mask(bucket, key)
	carries := carriesInline(m, shards, staged)
	targets := make([]bool, n)
	for i := range targets {
		targets[i] = (shards != nil || staged == nil || staged[i]) && late&(1<<i) == 0 && !(carries && before.unread(i))
		if late&(1<<i) != 0 || (carries && before.unread(i)) {
			s.dirty[i].Store(true) // its record is stale until healed: not a listing's source
		}
	}
	wq := WriteQuorum(m.Erasure.DataShards, m.Erasure.ParityShards)
	hedge := hedgedWrite{bucket: bucket, key: key, quorum: wq, lateDone: func(i int, err error) {
		if err == nil {
			return
		}
		s.log.Warn("a write's late commit failed", "drive", s.drives[i].String(), "bucket", bucket, "key", key, "err", err)
		s.dirty[i].Store(true)
		if staged != nil {
			s.removeStaged(context.WithoutCancel(ctx), oneDrive(n, i), stagingDir)
		}
		s.QueueHeal(bucket, key)
	}}
	// The drives that share a journal sync once all of them have renamed: one journal
	// commit for the object on each file system (storage.CommitBatch).
	commitCtx, leaveBatch := storage.BatchDrives(ctx, s.drives, targets)
	// A drive that fails before its CommitObject leaves the batch, so that no other waits.
	leave := func(i int, err error) error {
		leaveBatch(i)
		return err
	}
	errs := s.eachHedged(targets, hedge, func(i int, d storage.Drive) error {
		dm := *m
		dm.Erasure.Index = int(m.Erasure.Distribution[i])
		src := ""
		switch {
		case shards != nil:
			dm.InlineData = shards[dm.Erasure.Index]
		case staged != nil:
			src = stagingDir
		case m.Inline:
			dm.InlineData = inlineOn(before, i, m.ID) // a version kept, now the latest
		}
		dm.Noncurrent = noncurrentOn(m.Noncurrent, before, i)
		b := dm.Marshal()
		if meta.HeaderLength(b) == 0 {
			return leave(i, fmt.Errorf("%w: a record header of %d bytes", objstore.ErrTooManyVersions, len(b)))
		}
		if src != "" && stagedWait != nil {
			if err := stagedWait(i); err != nil {
				return leave(i, err)
			}
		}
		return d.CommitObject(commitCtx, bucket, key, b, storage.SysVolume, src)
	})
	cleanup := context.WithoutCancel(ctx)
	if countNil(errs) < wq {
		var written [16]byte // the data directory the write brought, if any
		if staged != nil {
			written = m.DataDir
		}
		s.rollback(cleanup, bucket, key, before, errs, written)
		if staged != nil {
			// A drive left out of the commit may still be writing its staged file.
			s.removeStagedAfter(cleanup, staged, stagingDir, stagedWait)
		}
		return reduceErr(errs, objstore.ErrWriteQuorum)
	}
	s.markDirty(errs)
	if staged != nil {
		failed := make([]bool, n)
		for i := range failed {
			failed[i] = staged[i] && errs[i] != nil && !errors.Is(errs[i], errLateWrite)
		}
		s.removeStagedAfter(cleanup, failed, stagingDir, stagedWait)
	}
	for _, err := range errs {
		// A late commit reports its own failure (lateDone); any other drive missed.
		if err != nil && !errors.Is(err, errLateWrite) {
			s.QueueHeal(bucket, key)
			break
		}
	}
	return nil
}

// carriesInline reports whether commit writes into each drive's record that drive's own
// inline shards from before: a record with no new data whose latest version is inline, or
// one keeping inline noncurrent versions.
func carriesInline(m *meta.Object, shards [][]byte, staged []bool) bool {
	if shards == nil && staged == nil && m.Inline {
		return true
	}
	for j := range m.Noncurrent {
		if m.Noncurrent[j].Inline {
			return true
		}
	}
	return false
}

// oneDrive returns the selection of drive i alone among n.
func oneDrive(n, i int) []bool {
	which := make([]bool, n)
	which[i] = true
	return which
}

// rollback restores, on the drives where a write succeeded (errs[i] == nil), the metadata
// they held before it, and removes the write's data directory from them.
//
// The records put back name data directories the write had made unreferenced on those
// drives: they are claimed meanwhile (see claimSet), so that a collection whose walk passed
// the key before the rollback leaves them. (A removal the collector began before the claim
// is not waited for: a write does not wait for a collection. It can only have begun in the
// moment the write's record stood on the drive, and costs that drive's copy, which the
// heal the drive's dirty mark brings rebuilds.)
func (s *Set) rollback(ctx context.Context, bucket, key string, before *version, errs []error, dataDir [16]byte) {
	defer s.claims.claim(bucket, versionDirs(before), false)()
	done := make([]bool, len(errs))
	for i, err := range errs {
		done[i] = err == nil
	}
	s.eachOf(done, func(i int, d storage.Drive) error {
		var err error
		switch {
		case before.unread(i):
			// What the drive held is unknown: it keeps the failed write's copy, which no
			// quorum holds, for the heal to remove (as after a crash mid-write).
			s.dirty[i].Store(true)
			s.QueueHeal(bucket, key)
		case before != nil && before.raw[i] != nil:
			err = d.CommitObject(ctx, bucket, key, before.raw[i], "", "")
		default:
			err = d.DeleteObject(ctx, bucket, key)
		}
		if err != nil {
			s.log.Warn("rolling back a write below quorum", "drive", d.String(), "bucket", bucket, "key", key, "err", err)
			s.dirty[i].Store(true)
		}
		if dataDir != ([16]byte{}) {
			d.Delete(ctx, bucket, layout.DataDirPath(hexID(dataDir)), true)
		}
		return nil
	})
}
