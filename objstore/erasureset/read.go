package erasureset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// OpenObject opens the current version for reading. The caller holds the key's read lock
// for the duration of the call only: the handle pins the version's data directory, so that
// it stays readable after the lock is released, whatever writes come next.
func (s *Set) OpenObject(ctx context.Context, bucket, key string) (objstore.ObjectHandle, error) {
	return s.OpenVersion(ctx, bucket, key, "")
}

// OpenVersion opens a version ("" for the latest) for reading, as OpenObject does.
func (s *Set) OpenVersion(ctx context.Context, bucket, key, versionID string) (objstore.ObjectHandle, error) {
	v, m, err := s.readNamedOpt(ctx, bucket, key, versionID, true)
	if err != nil {
		return nil, err
	}
	pos := 0 // m's position in the record, the same in every copy of it
	if m != v.current {
		pos = findVersion(v.current, m.ID)
	}
	codec, err := s.codec(m.Erasure.DataShards, m.Erasure.ParityShards, m.Erasure.BlockSize, erasure.BitrotAlgorithm(m.Erasure.Bitrot))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, err)
	}
	h := &handle{
		set:    s,
		bucket: bucket,
		key:    key,
		meta:   m,
		codec:  codec,
	}
	h.info = objectInfo(bucket, key, m, h.partInfoBuf[:0])
	h.info.Version.IsLatest = pos == 0
	h.slow = s.lat.slowMask()
	h.shards = h.shardsBuf[:len(s.drives)]
	for i := range h.shards {
		h.shards[i] = -1
		switch {
		case v.holds[i]:
			h.shards[i] = versionAt(v.decoded[i], pos).Erasure.Index
		case !m.Inline && errors.Is(v.errs[i], errSlowDrive) && i < len(m.Erasure.Distribution):
			// A drive the metadata read went on without may still hold this version's
			// shard: it is read last (slow), when the others are not enough. Its file is in
			// this version's own data directory and every block is checked, so a drive
			// without this version gives a missing or damaged shard, never wrong bytes.
			h.shards[i] = int(m.Erasure.Distribution[i])
			h.slow |= 1 << i
		}
	}
	if m.Inline {
		h.inline = h.inlineBuf[:len(s.drives)]
		for i, held := range v.holds {
			if held {
				h.inline[i] = versionAt(v.decoded[i], pos).InlineData
			}
		}
	} else if m.DataDir != ([16]byte{}) {
		h.dataDir = hexID(m.DataDir)
		s.pins.pin(bucket, h.dataDir)
	}
	h.partEnds = h.partEndsBuf[:0]
	var end int64
	for _, p := range m.Parts {
		end += p.Size
		h.partEnds = append(h.partEnds, end)
	}
	if v.needsHeal() {
		s.QueueHeal(bucket, key)
	}
	return h, nil
}

// handle reads one version of an object.
type handle struct {
	set         *Set
	bucket, key string
	info        objstore.ObjectInfo
	meta        *meta.Object
	codec       *erasure.Codec
	// shards[i] is the shard drive i holds of this version, or -1.
	shards []int
	// inline[i] is drive i's framed shard when the data is inline.
	inline [][]byte
	// dataDir is the pinned data directory ("" when inline or empty).
	dataDir string
	// partEnds[p] is the object offset where part p ends.
	partEnds []int64
	// slow has bit i set when drive i answered late when the handle was opened: its
	// shards are read only when the others are not enough (erasure.SlowReaderAt).
	slow uint32

	// The backing arrays of shards, inline, partEnds and info.Parts for the common case (a
	// set has at most 16 drives; most objects have one part), so that opening a small
	// object allocates the handle alone.
	shardsBuf   [16]int
	inlineBuf   [16][]byte
	partEndsBuf [1]int64
	partInfoBuf [1]objstore.PartInfo

	// filesMu guards files, which the decoder's per-shard goroutines open concurrently;
	// files is nil until the first part file is opened (inline objects have none).
	// Lock order: mu before filesMu.
	filesMu sync.Mutex
	files   map[fileKey]storage.File

	// mu serialises decoding and guards cache and closed.
	mu sync.Mutex
	// readers and lazy are decodeLocked's per-call scratch (what it hands the decoder,
	// which is done with them when Decode returns); guarded by mu.
	readers [16]io.ReaderAt
	lazy    [16]lazyFile
	// cache holds the stripe read last, for small sequential reads; guarded by mu.
	cache struct {
		buf        []byte
		start, end int64 // object offsets of the cached bytes
	}
	closed     bool
	healQueued bool
	// bitrotSeen[p] has bit i set when shard i of part p was reported damaged; nil until
	// the first damage. Guarded by mu.
	bitrotSeen []uint32
}

type fileKey struct{ drive, part int }

var (
	_ objstore.ObjectHandle = (*handle)(nil)
	_ objstore.BufferReader = (*handle)(nil)
)

func (h *handle) Info() objstore.ObjectInfo { return h.info }

// Close releases the files and the pin of the data directory.
func (h *handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.filesMu.Lock()
	for _, f := range h.files {
		f.Close()
	}
	h.files = nil
	h.filesMu.Unlock()
	h.cache.buf = nil
	if h.dataDir != "" {
		for _, drive := range h.set.pins.unpin(h.bucket, h.dataDir) {
			h.set.removeDataDir(context.Background(), drive, h.bucket, h.dataDir)
		}
	}
	return nil
}

// WriteRange writes length bytes from offset to w, part by part, decoding straight into w.
func (h *handle) WriteRange(ctx context.Context, w io.Writer, offset, length int64) (int64, error) {
	if offset < 0 || length < 0 || offset+length > h.meta.Size {
		return 0, fmt.Errorf("%w: %d bytes at %d of a %d-byte object", objstore.ErrInvalidRange, length, offset, h.meta.Size)
	}
	var written int64
	for length > 0 {
		part, partOff, partSize := h.locate(offset)
		n := min(length, partSize-partOff)
		m, err := h.decode(ctx, w, part, partOff, n, partSize)
		written += m
		if err != nil {
			return written, err
		}
		offset += n
		length -= n
	}
	return written, nil
}

// ReadInto reads len(p) bytes at off into p, part by part, the intact data blocks straight
// into p (erasure.Codec.DecodeInto).
func (h *handle) ReadInto(ctx context.Context, p []byte, off int64) (int64, error) {
	length := int64(len(p))
	if off < 0 || off+length > h.meta.Size {
		return 0, fmt.Errorf("%w: %d bytes at %d of a %d-byte object", objstore.ErrInvalidRange, length, off, h.meta.Size)
	}
	var n int64
	for n < length {
		part, partOff, partSize := h.locate(off + n)
		chunk := min(length-n, partSize-partOff)
		m, err := h.decodeInto(ctx, p[n:n+chunk], part, partOff, partSize)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadAt reads len(p) bytes at off. Reads smaller than a stripe go through a one-stripe
// cache, so that a run of small sequential reads decodes each stripe once.
func (h *handle) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", objstore.ErrInvalidRange)
	}
	if off >= h.meta.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), h.meta.Size-off)
	ctx := context.Background()
	var n int64
	for n < want {
		pos := off + n
		if int64(len(p))-n >= h.meta.Erasure.BlockSize {
			// Large reads go straight into p.
			part, partOff, partSize := h.locate(pos)
			chunk := min(want-n, partSize-partOff)
			m, err := h.decode(ctx, &sliceWriter{buf: p[n : n+chunk]}, part, partOff, chunk, partSize)
			n += m
			if err != nil {
				return int(n), err
			}
			continue
		}
		m, err := h.readCached(ctx, p[n:want], pos)
		n += int64(m)
		if err != nil {
			return int(n), err
		}
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// readCached copies from the cached stripe holding pos, decoding that stripe first if
// needed.
func (h *handle) readCached(ctx context.Context, p []byte, pos int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, errors.New("read of a closed object handle")
	}
	if pos < h.cache.start || pos >= h.cache.end {
		part, partOff, partSize := h.locate(pos)
		bs := h.meta.Erasure.BlockSize
		stripeOff := partOff / bs * bs
		stripeLen := min(bs, partSize-stripeOff)
		if int64(cap(h.cache.buf)) < stripeLen {
			h.cache.buf = make([]byte, bs)
		}
		buf := h.cache.buf[:stripeLen]
		h.cache.start, h.cache.end = 0, 0
		m, err := h.decodeLocked(ctx, &sliceWriter{buf: buf}, part, stripeOff, stripeLen, partSize)
		if err != nil {
			return 0, err
		}
		if m != stripeLen {
			return 0, fmt.Errorf("%s/%s: decoded %d of %d bytes", h.bucket, h.key, m, stripeLen)
		}
		h.cache.start = pos - (partOff - stripeOff)
		h.cache.end = h.cache.start + stripeLen
	}
	return copy(p, h.cache.buf[pos-h.cache.start:h.cache.end-h.cache.start]), nil
}

// locate returns the part holding object offset off, the offset within it, and its size.
func (h *handle) locate(off int64) (part int, partOff, partSize int64) {
	part = sort.Search(len(h.partEnds), func(i int) bool { return h.partEnds[i] > off })
	start := h.partEnds[part] - h.meta.Parts[part].Size
	return part, off - start, h.meta.Parts[part].Size
}

func (h *handle) decode(ctx context.Context, w io.Writer, part int, off, length, partSize int64) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, errors.New("read of a closed object handle")
	}
	return h.decodeLocked(ctx, w, part, off, length, partSize)
}

// decodeInto decodes len(p) bytes of one part at off into p.
func (h *handle) decodeInto(ctx context.Context, p []byte, part int, off, partSize int64) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, errors.New("read of a closed object handle")
	}
	n, shardErrs, err := h.codec.DecodeInto(ctx, p, h.shardReaders(part), off, partSize)
	return n, h.decoded(part, shardErrs, err)
}

// decodeLocked decodes a range of one part into w; h.mu is held.
func (h *handle) decodeLocked(ctx context.Context, w io.Writer, part int, off, length, partSize int64) (int64, error) {
	n, shardErrs, err := h.codec.Decode(ctx, w, h.shardReaders(part), off, length, partSize)
	return n, h.decoded(part, shardErrs, err)
}

// shardReaders returns the readers of part's shards, in the handle's scratch; h.mu is held.
func (h *handle) shardReaders(part int) []io.ReaderAt {
	readers := h.readers[:h.codec.TotalShards()]
	clear(readers)
	for drive, shard := range h.shards {
		if shard < 0 {
			continue
		}
		if h.inline != nil {
			readers[shard] = (*inlineShard)(&h.inline[drive])
		} else {
			h.lazy[drive] = lazyFile{h: h, key: fileKey{drive, part}}
			readers[shard] = &h.lazy[drive]
		}
	}
	return readers
}

// decoded acts on a decode's outcome and returns its error in the object layer's terms;
// h.mu is held.
func (h *handle) decoded(part int, shardErrs []error, err error) error {
	h.noteShardErrs(part, shardErrs)
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, erasure.ErrReadQuorum):
		err = fmt.Errorf("%w: %w", objstore.ErrReadQuorum, err)
	case errors.Is(err, erasure.ErrBufferAbandoned):
		err = fmt.Errorf("%w: %w", objstore.ErrBufferAbandoned, err)
	}
	return fmt.Errorf("reading %s/%s: %w", h.bucket, h.key, err)
}

// noteShardErrs acts on what a decode of part found wrong with its shards: the first
// damaged or unreadable shard queues a heal of the object, and every damaged shard file not
// reported yet by this handle is reported as bitrot. h.mu is held.
func (h *handle) noteShardErrs(part int, shardErrs []error) {
	damaged := 0
	for shard, se := range shardErrs {
		if se == nil || errors.Is(se, erasure.ErrShardMissing) {
			continue
		}
		if !h.healQueued {
			h.healQueued = true
			h.set.QueueHeal(h.bucket, h.key)
		}
		if isBitrot(se) && h.firstBitrot(part, shard) {
			damaged++
		}
	}
	h.set.reportBitrot(damaged)
}

// firstBitrot records that shard of part was found damaged and reports whether that is
// news to this handle, so that a damaged file read stripe by stripe counts once. h.mu is
// held.
func (h *handle) firstBitrot(part, shard int) bool {
	if h.bitrotSeen == nil {
		h.bitrotSeen = make([]uint32, len(h.meta.Parts))
	}
	bit := uint32(1) << shard
	if h.bitrotSeen[part]&bit != 0 {
		return false
	}
	h.bitrotSeen[part] |= bit
	return true
}

// lazyFile opens a part file on its first read.
type lazyFile struct {
	h   *handle
	key fileKey
}

func (l *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	defer l.observe(time.Now())
	f, err := l.open()
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

// Slow makes lazyFile an erasure.SlowReaderAt: a drive that answered late when the handle
// was opened is read only when the other shards are not enough.
func (l *lazyFile) Slow() bool { return l.h.slow&(1<<l.key.drive) != 0 }

// observe records the time a read that began at began took, as its drive's latency.
func (l *lazyFile) observe(began time.Time) {
	l.h.set.lat.observe(l.key.drive, time.Since(began))
}

// ReadBlockAt makes lazyFile an erasure.BlockReaderAt: a read that timed out (which may go
// on writing into sum and data) is ErrBufferAbandoned to the decoder.
func (l *lazyFile) ReadBlockAt(sum, data []byte, off int64) (int, error) {
	defer l.observe(time.Now())
	f, err := l.open()
	if err != nil {
		return 0, err
	}
	n, err := storage.ReadBlock(f, sum, data, off)
	if errors.Is(err, storage.ErrTimeout) {
		err = fmt.Errorf("%w: %w", erasure.ErrBufferAbandoned, err)
	}
	return n, err
}

var (
	_ erasure.BlockReaderAt = (*lazyFile)(nil)
	_ erasure.SlowReaderAt  = (*lazyFile)(nil)
)

func (l *lazyFile) open() (storage.File, error) {
	h := l.h
	h.filesMu.Lock()
	defer h.filesMu.Unlock()
	if f := h.files[l.key]; f != nil {
		return f, nil
	}
	if h.files == nil {
		h.files = make(map[fileKey]storage.File)
	}
	d := h.set.drives[l.key.drive]
	f, err := d.OpenFile(context.Background(), h.bucket, layout.PartPath(h.dataDir, h.meta.Parts[l.key.part].Number))
	if err != nil {
		return nil, err
	}
	h.files[l.key] = f
	return f, nil
}

// sliceWriter writes into a fixed slice.
type sliceWriter struct {
	buf []byte
	n   int
}

func (s *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(s.buf)-s.n {
		return 0, io.ErrShortWrite
	}
	copy(s.buf[s.n:], p)
	s.n += len(p)
	return len(p), nil
}

// inlineShard reads an inline shard; a pointer to the handle's own slice, so that handing
// it to the decoder allocates nothing.
type inlineShard []byte

// ReadsMemory makes inlineShard an erasure.MemoryReaderAt: the decoder reads it on its
// own goroutine.
func (s *inlineShard) ReadsMemory() {}

var _ erasure.MemoryReaderAt = (*inlineShard)(nil)

func (s *inlineShard) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("inline shard: negative offset")
	}
	if off >= int64(len(*s)) {
		return 0, io.EOF
	}
	n := copy(p, (*s)[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// HandleVersion returns the version id of the object version a handle of a set reads, and
// false for a handle of anything else.
func HandleVersion(h objstore.ObjectHandle) ([16]byte, bool) {
	if sh, ok := h.(*handle); ok {
		return sh.meta.VersionID, true
	}
	return [16]byte{}, false
}

// VersionID returns the id of the key's current version. The caller holds the key's lock
// when the answer must stay true.
func (s *Set) VersionID(ctx context.Context, bucket, key string) ([16]byte, error) {
	if err := checkKey(key); err != nil {
		return [16]byte{}, err
	}
	v, err := s.readVersionToRead(ctx, bucket, key)
	if err != nil {
		return [16]byte{}, err
	}
	return v.current.VersionID, nil
}
