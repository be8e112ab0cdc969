package erasureset

import (
	"context"
	"sync"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// pinSet keeps the data directories that open handles read from. A data directory whose
// object was overwritten, deleted or renamed over is removed at once unless a handle is
// reading it; then its removal waits until the last such handle closes, so that a reader
// always reads the version it opened to the end.
type pinSet struct {
	mu sync.Mutex
	// count holds the number of open handles per data directory; pending the drives whose
	// copy awaits removal. Both keyed by bucket + "/" + hex id, guarded by mu.
	count   map[string]int
	pending map[string][]int
}

func (p *pinSet) init() {
	p.count = make(map[string]int)
	p.pending = make(map[string][]int)
}

func pinKey(bucket, dataDir string) string { return bucket + "/" + dataDir }

func (p *pinSet) pin(bucket, dataDir string) {
	p.mu.Lock()
	p.count[pinKey(bucket, dataDir)]++
	p.mu.Unlock()
}

// unpin releases a pin and returns the drives whose copy must now be removed.
func (p *pinSet) unpin(bucket, dataDir string) []int {
	k := pinKey(bucket, dataDir)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count[k]--
	if p.count[k] > 0 {
		return nil
	}
	delete(p.count, k)
	drives := p.pending[k]
	delete(p.pending, k)
	return drives
}

// deferIfPinned records drive's copy for removal at the last unpin and reports true, or
// reports false when nothing reads it.
func (p *pinSet) deferIfPinned(bucket, dataDir string, drive int) bool {
	k := pinKey(bucket, dataDir)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count[k] == 0 {
		return false
	}
	p.pending[k] = append(p.pending[k], drive)
	return true
}

// removeDataDir removes a data directory from one drive, now or when its last reader
// leaves. Failure leaves unreferenced data behind, which costs space but no correctness.
func (s *Set) removeDataDir(ctx context.Context, drive int, bucket, dataDir string) {
	if dataDir == "" || s.pins.deferIfPinned(bucket, dataDir, drive) {
		return
	}
	if err := s.drives[drive].Delete(ctx, bucket, layout.DataDirPath(dataDir), true); err != nil {
		s.log.Debug("removing a replaced data directory", "drive", s.drives[drive].String(), "bucket", bucket, "dir", dataDir, "err", err)
	}
}

// removeReplaced removes, on every drive, the data directories of the versions that drive
// held before a write, but those the write kept: the versions of the record keep (nil for
// none). A version's data directory is shared by no other key nor version while a read
// quorum holds that version's record: a drive's copy of another version (a leftover that
// no quorum holds) is left alone, its data directories to the collector (CollectGarbage),
// since such a copy may name the data directory of another key's record on that drive. A
// rename within the set that a drive could not take (full, read-only) leaves that drive
// with the source's record; the heal then writes the destination there, whose record
// names the same directory (a rename moves the record, not the data): removing the
// leftover's data took the destination's.
func (s *Set) removeReplaced(ctx context.Context, bucket string, before *version, keep *meta.Object) {
	s.removeReplacedOn(ctx, bucket, before, nil, keep)
}

// removeReplacedOn is removeReplaced on the drives marked in targets (nil: all), the drives
// at once: a put returns after it, and a removal (a rename into the trash, then the
// removal of the files) costs about as much as a drive's commit.
func (s *Set) removeReplacedOn(ctx context.Context, bucket string, v *version, targets []bool, keep *meta.Object) {
	if v == nil {
		return
	}
	kept := keptDirs(keep)
	// A slow drive's removals are not waited for: a data directory's name is never reused,
	// so a removal that ends late changes nothing a later write relies on.
	s.eachHedged(targets, hedgedWrite{unordered: true}, func(i int, _ storage.Drive) error {
		m := v.decoded[i]
		if m == nil && v.unread(i) {
			// A copy left unread (a slow drive) is taken to be the quorum's, whose
			// directories every drive names alike; one it did not hold is the collector's.
			m = v.current
		}
		if m == nil || v.current == nil || m.VersionID != v.current.VersionID {
			return nil // none, or a leftover: see removeReplaced
		}
		for j := 0; j < versionCount(m); j++ {
			if dir := versionAt(m, j).DataDir; dir != ([16]byte{}) && !kept(dir) {
				s.removeDataDir(ctx, i, bucket, hexID(dir))
			}
		}
		return nil
	})
}

// keptDirs returns a test of whether a data directory belongs to a version of record m
// (nil: none does).
func keptDirs(m *meta.Object) func([16]byte) bool {
	switch {
	case m == nil:
		return func([16]byte) bool { return false }
	case len(m.Noncurrent) == 0:
		return func(d [16]byte) bool { return d == m.DataDir }
	}
	set := make(map[[16]byte]bool, versionCount(m))
	for j := 0; j < versionCount(m); j++ {
		set[versionAt(m, j).DataDir] = true
	}
	return func(d [16]byte) bool { return set[d] }
}

// isPinned reports whether an open handle reads the data directory.
func (p *pinSet) isPinned(bucket, dataDir string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[pinKey(bucket, dataDir)] > 0
}
