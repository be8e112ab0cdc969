package fusefs

// What a directory node knows of its entries without asking the core: the hints a listing
// leaves for the lookups that follow it (readdirplus), and the complete name set of a
// directory the mount made.

import "time"

// maxCompleteNames bounds the names a complete directory keeps; past it, lookups ask the
// core again.
const maxCompleteNames = 100_000

// markComplete records that the directory was just made, empty, by the mount.
func (d *dirNode) markComplete() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.complete, d.completeGen, d.names = true, d.childGen.Load(), map[string]struct{}{}
}

// knownAbsent reports whether the mount knows that name is not in the directory.
func (d *dirNode) knownAbsent(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.complete {
		return false
	}
	if d.completeGen != d.childGen.Load() {
		d.complete, d.names = false, nil // someone else changed the directory
		return false
	}
	_, ok := d.names[name]
	return !ok
}

// forgetComplete stops answering lookups from the directory's names.
func (d *dirNode) forgetComplete() {
	d.mu.Lock()
	d.complete, d.names = false, nil
	d.mu.Unlock()
}

// noteName records that the mount made name exist (or not) in the directory, and forgets
// the listing's hint for it. The directory's mtime and ctime move, as on a local file
// system (see dirNode.touched).
func (d *dirNode) noteName(name string, present bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.touched = time.Now()
	delete(d.hints, name)
	if !d.complete {
		return
	}
	if !present {
		delete(d.names, name)
		return
	}
	d.names[name] = struct{}{}
	if len(d.names) > maxCompleteNames {
		d.complete, d.names = false, nil
	}
}

// setHints replaces the listing hints.
func (d *dirNode) setHints(h map[string]hint, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hints, d.hintGen = h, gen
}

// takeHint returns and forgets the listing's hint for name, if it is still current.
func (d *dirNode) takeHint(name string) (hint, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.hints[name]
	if !ok || d.hintGen != d.childGen.Load() {
		return hint{}, false
	}
	delete(d.hints, name)
	return h, true
}

// dropHint forgets the hint for name: this mount is changing that entry.
func (d *dirNode) dropHint(name string) {
	d.mu.Lock()
	delete(d.hints, name)
	d.mu.Unlock()
}
