package erasureset

import (
	"sync"

	"github.com/flashstor/flashstor/objstore/meta"
)

// The collector (CollectGarbage) decides that a data directory is garbage on a drive when
// its walk of the drive's records met none that names it. A walk visits keys in order, so
// an operation that, during the walk, makes a record naming an existing data directory
// appear at a key the walk has passed hides that directory from it:
//
//   - a rename (RenameObject, its undo, RenameOnDrives) moves a record between keys, data
//     directory and all: from a key the walk has not reached to one it has passed, the walk
//     sees the record at neither;
//   - a heal writes a drive's record again, naming the version's data directory, which it
//     rebuilds on that drive (where a rename left only the source's record, the heal of the
//     destination writes it while the source's record is still there; the source's is
//     removed later as dangling); the collector may have listed that directory, still
//     unreferenced on that drive, and walked past the key before the heal's commit.
//
// Such an operation claims the data directories of the records it writes, from before its
// first drive write until after its last; the collector never removes a directory that a
// claim holds, nor one that a claim held at any time since its walk began (that claim's
// writes may be behind the walk's position). Renames claim without waiting. A heal, which
// makes a directory appear again on a drive where the collector may be removing it,
// first waits for such a removal in flight to end (it holds no lock then).
//
// Other writes need no claim: a put or a multipart completion names a new data directory
// (its id carries its creation time, younger than the grace), and a metadata update, a
// version's removal or a delete leave a record at its key or remove it, which hides
// nothing from a walk.

// claimSet is the set's record of claims and of the collections running.
type claimSet struct {
	mu sync.Mutex
	// held counts, per bucket + "/" + data directory, the claims holding it. Guarded by mu.
	held map[string]int
	// collections counts the collections running; while it is not 0, seq numbers the
	// claims and touched keeps, per data directory, the number of the last claim of it, so
	// that a collection can tell whether a directory was claimed since its walk began.
	// Both are cleared when the last collection ends. Guarded by mu.
	collections int
	seq         uint64
	touched     map[string]uint64
	// removing counts, per data directory, the collector's removals in flight; removed
	// is signalled whenever one ends. Guarded by mu.
	removing map[string]int
	removed  sync.Cond
}

func (c *claimSet) init() {
	c.held = make(map[string]int)
	c.touched = make(map[string]uint64)
	c.removing = make(map[string]int)
	c.removed.L = &c.mu
}

// claim claims the data directories dirs of bucket and returns the release of the claim,
// which must be called once the operation's last drive write has ended. With wait, it
// first waits until no removal of any of them by the collector is in flight.
func (c *claimSet) claim(bucket string, dirs []string, wait bool) (release func()) {
	if len(dirs) == 0 {
		return func() {}
	}
	keys := make([]string, len(dirs))
	for i, d := range dirs {
		keys[i] = pinKey(bucket, d)
	}
	c.mu.Lock()
	for wait && c.anyRemoving(keys) {
		c.removed.Wait()
	}
	if c.collections > 0 {
		c.seq++
	}
	for _, k := range keys {
		c.held[k]++
		if c.collections > 0 {
			c.touched[k] = c.seq
		}
	}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, k := range keys {
				if c.held[k]--; c.held[k] == 0 {
					delete(c.held, k)
				}
			}
		})
	}
}

func (c *claimSet) anyRemoving(keys []string) bool {
	for _, k := range keys {
		if c.removing[k] > 0 {
			return true
		}
	}
	return false
}

// startCollection records a collection that begins its walks now and returns its start,
// for mayRemove; endCollection must follow.
func (c *claimSet) startCollection() (start uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.collections++
	return c.seq
}

func (c *claimSet) endCollection() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.collections--; c.collections == 0 {
		clear(c.touched)
		c.seq = 0
	}
}

// beginRemoval reports whether the collection that started at start may remove the data
// directory dir of bucket: no claim holds it, and none claimed it since start. If so the
// removal counts as in flight until endRemoval.
func (c *claimSet) beginRemoval(bucket, dir string, start uint64) bool {
	k := pinKey(bucket, dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	all := pinKey(bucket, anyDir)
	if c.held[k] > 0 || c.touched[k] > start || c.held[all] > 0 || c.touched[all] > start {
		return false
	}
	c.removing[k]++
	return true
}

func (c *claimSet) endRemoval(bucket, dir string) {
	k := pinKey(bucket, dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removing[k]--; c.removing[k] == 0 {
		delete(c.removing, k)
	}
	c.removed.Broadcast()
}

// anyDir, claimed, stands for every data directory of the bucket: what an operation
// claims when it moves a record it could not read.
const anyDir = "*"

// versionDirs returns the data directories that the drives' records read in v name (nil
// v: none), with anyDir if a drive's record could not be decoded.
func versionDirs(v *version) []string {
	if v == nil {
		return nil
	}
	dirs := recordDirs(v.decoded...)
	for i, raw := range v.raw {
		if raw != nil && v.decoded[i] == nil {
			return append(dirs, anyDir)
		}
	}
	return dirs
}

// recordDirs returns the data directories that the records ms name, every version's,
// each once.
func recordDirs(ms ...*meta.Object) []string {
	var dirs []string
	seen := make(map[[16]byte]bool)
	for _, m := range ms {
		if m == nil {
			continue
		}
		for j := 0; j < versionCount(m); j++ {
			if d := versionAt(m, j).DataDir; d != ([16]byte{}) && !seen[d] {
				seen[d] = true
				dirs = append(dirs, hexID(d))
			}
		}
	}
	return dirs
}
