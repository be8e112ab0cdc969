package erasureset

import (
	"context"
	"sync"

	"github.com/flashstor/flashstor/objstore/layout"
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

// removeReplaced removes, on every drive, the data directory of the version that drive held
// before a write, unless the write kept it (keep).
func (s *Set) removeReplaced(ctx context.Context, bucket string, before *version, keep [16]byte) {
	for i, m := range before.decoded {
		if m == nil || m.DataDir == ([16]byte{}) || m.DataDir == keep {
			continue
		}
		s.removeDataDir(ctx, i, bucket, hexID(m.DataDir))
	}
}

// isPinned reports whether an open handle reads the data directory.
func (p *pinSet) isPinned(bucket, dataDir string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[pinKey(bucket, dataDir)] > 0
}
