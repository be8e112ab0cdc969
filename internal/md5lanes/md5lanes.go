// Package md5lanes hands out the MD5 hashes of concurrent bodies (a put's ETag), each
// with crypto/md5 while few are hashed at once and in the lanes of one multi-buffer
// hasher (github.com/minio/md5-simd: up to 16 bodies hashed together in the AVX-512
// registers of one core, 8 with AVX2) once many are.
//
// MD5 cannot be split: one body is hashed by one core at about 1 GB/s, and at 64 MiB the
// hash was three quarters of a put's CPU time (objstore/BENCHMARKS.md, issue 11). A lane
// costs more than crypto/md5 while few lanes are busy (one body alone is hashed at about
// two thirds of the speed, for half again the CPU) and much less once many are: eight
// bodies at once cost 29 instead of 69 ms of CPU each per 64 MiB on this machine's
// AVX-512 core, sixteen 20 ms (`go test -bench ETagMD5 ./objstore/erasureset/`). So a
// Source counts the hashes handed out and not closed, and gives lanes only while that
// count has recently reached its threshold. A hash chooses at its first write, not when
// it is handed out, so that the bodies of a burst, which start at nearly the same moment,
// have all been counted by then; and it looks at the highest count of the current and the
// previous window (a second each), so that a body starting as others end sees them.
package md5lanes

import (
	"crypto/md5"
	"hash"
	"runtime"
	"sync"
	"time"

	md5simd "github.com/minio/md5-simd"
)

// window is how long a peak of concurrent hashes counts for new ones.
const window = time.Second

// DefaultThreshold is the number of concurrent hashes from which lanes pay, given the
// number of cores the process runs on: eight on the 2-core machine measured, where eight
// bodies in the lanes of one core hashed 2.3 GB/s against crypto/md5's 1.5 GB/s on both
// cores, for less than half the CPU; four per core on larger machines, so that bodies keep
// a core each until the cores are oversubscribed (one server's lanes, about 2.3 GB/s, hash
// less than three cores of crypto/md5).
func DefaultThreshold() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Source hands out MD5 hashes. It is safe for concurrent use. The zero value is not
// usable: see New.
type Source struct {
	threshold int
	now       func() time.Time

	mu sync.Mutex
	// active counts the hashes handed out and not closed. GUARDED_BY(mu).
	active int
	// peak is the highest active of the window that began at start; prevPeak that of the
	// window before it (0 if it ended more than a window ago). GUARDED_BY(mu).
	peak, prevPeak int
	start          time.Time
	// server hashes in lanes; nil until the first hash that takes a lane. GUARDED_BY(mu).
	server md5simd.Server
	// lanes counts the active hashes that run in a lane. GUARDED_BY(mu).
	lanes  int
	closed bool // GUARDED_BY(mu)
}

// New returns a Source giving lanes from threshold concurrent hashes on (0: never).
func New(threshold int) *Source {
	return &Source{threshold: threshold, now: time.Now}
}

// Hash returns a new MD5 hash, counted from now on; it chooses between a lane and
// crypto/md5 at its first Write (or Choose). The caller must Close it once done with it
// (after its Sum, or instead of it). A nil Source gives crypto/md5 hashes.
func (s *Source) Hash() *Hash {
	if s == nil {
		return &Hash{impl: md5.New()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active++
	s.observeLocked()
	return &Hash{src: s}
}

// newImpl returns the hash for a body counted in active: a lane if the recent peak reached
// the threshold.
func (s *Source) newImpl() (hash.Hash, md5simd.Hasher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := s.observeLocked()
	if s.threshold <= 0 || busy < s.threshold || s.closed {
		return md5.New(), nil
	}
	if s.server == nil {
		s.server = md5simd.NewServer()
	}
	lane := s.server.NewHash()
	s.lanes++
	return lane, lane
}

// observeLocked records the current count in the window's peak, turning windows over as
// time passes, and returns the highest count of this window and the previous one.
func (s *Source) observeLocked() int {
	now := s.now()
	switch since := now.Sub(s.start); {
	case since >= 2*window:
		s.prevPeak, s.peak, s.start = 0, 0, now
	case since >= window:
		s.prevPeak, s.peak, s.start = s.peak, 0, now
	}
	s.peak = max(s.peak, s.active)
	return max(s.peak, s.prevPeak)
}

// release ends a hash's count.
func (s *Source) release(lane bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if lane {
		s.lanes--
	}
	s.observeLocked()
	s.stopIdleLocked()
}

// Close stops the lanes' server once the hashes in its lanes are closed (at once if none
// is); later hashes use crypto/md5.
func (s *Source) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.stopIdleLocked()
}

// stopIdleLocked stops the server of a closed source whose lanes are all closed.
func (s *Source) stopIdleLocked() {
	if s.closed && s.lanes == 0 && s.server != nil {
		s.server.Close()
		s.server = nil
	}
}

// Hash is one body's MD5: a hash.Hash, plus Close. Like the hashes of crypto/md5, it is
// for one goroutine at a time.
type Hash struct {
	src  *Source
	impl hash.Hash      // nil until chosen
	lane md5simd.Hasher // the lane impl is, nil for crypto/md5
	done bool
}

// Choose makes the hash's choice, if its first Write has not, and reports whether it
// runs in a lane of the multi-buffer hasher. A lane hashes on the server's goroutine and
// copies what it is given (a Write returns before it is hashed); crypto/md5 hashes on
// the caller's.
func (h *Hash) Choose() bool {
	if h.impl == nil {
		h.impl, h.lane = h.src.newImpl()
	}
	return h.lane != nil
}

// InLane reports whether the hash chose a lane (false before its choice).
func (h *Hash) InLane() bool { return h.lane != nil }

// Write adds p to the hash; it never fails.
func (h *Hash) Write(p []byte) (int, error) {
	h.Choose()
	return h.impl.Write(p)
}

// Sum appends the hash of everything written to b.
func (h *Hash) Sum(b []byte) []byte {
	h.Choose()
	return h.impl.Sum(b)
}

// Reset starts the hash again, keeping its choice.
func (h *Hash) Reset() {
	h.Choose()
	h.impl.Reset()
}

func (h *Hash) Size() int      { return md5.Size }
func (h *Hash) BlockSize() int { return md5.BlockSize }

var _ hash.Hash = (*Hash)(nil)

// Close releases the hash's lane and its place in the count; it may be called more than
// once, and the hash must not be used after it.
func (h *Hash) Close() {
	if h.done {
		return
	}
	h.done = true
	if h.lane != nil {
		h.lane.Close()
	}
	if h.src != nil {
		h.src.release(h.lane != nil)
	}
}
