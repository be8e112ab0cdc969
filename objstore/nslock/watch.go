package nslock

import "strings"

// A Watch records the names below a prefix that writers lock from its start: the names
// locked for writing since, and those that had holders or waiters at its start (for
// reading or writing: the Map does not tell). For each it counts the changes (a write
// acquisition, or the last holder leaving a name held at the start) and tells whether a
// writer (or a holder from before the start) may still hold or wait for it.
//
// It lets a reader that does not lock read what writers of those names wrote, as a
// sequence lock does: a read of a name that was not busy before it and whose count did
// not change during it saw what every writer counted so far left. The collector of
// unreferenced data (erasureset.Set.CollectGarbage) reads so the records that changed
// under its walk, without making any writer wait.
type Watch struct {
	m      *Map
	prefix string
	// changes counts each name's changes; writers counts the write acquisitions (waiting
	// or held) not yet released; initial marks the names with holders or waiters at the
	// start that have not yet all left. All guarded by m.mu.
	changes map[string]uint64
	writers map[string]int
	initial map[string]bool
	// events counts every change and every release the watch recorded, all names
	// together; guarded by m.mu.
	events uint64
}

// Watch starts a watch of the names that start with prefix. Stop must end it.
func (m *Map) Watch(prefix string) *Watch {
	w := &Watch{m: m, prefix: prefix, changes: make(map[string]uint64), writers: make(map[string]int), initial: make(map[string]bool)}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.locks {
		if strings.HasPrefix(name, prefix) {
			w.initial[name] = true
			w.changes[name]++
		}
	}
	m.watches = append(m.watches, w)
	return w
}

// Stop ends the watch: the Map stops recording for it.
func (w *Watch) Stop() {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	for i, x := range w.m.watches {
		if x == w {
			w.m.watches = append(w.m.watches[:i], w.m.watches[i+1:]...)
			break
		}
	}
}

// Names returns the names recorded so far, in no order.
func (w *Watch) Names() []string {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	out := make([]string, 0, len(w.changes))
	for name := range w.changes {
		out = append(out, name)
	}
	return out
}

// State returns how many changes of name the watch counted and whether a writer, or a
// holder from before the start, may hold it or wait for it now.
func (w *Watch) State(name string) (changes uint64, busy bool) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.changes[name], w.writers[name] > 0 || w.initial[name]
}

// Events returns how many changes and releases the watch has recorded, all names
// together: while it stays the same, no name's State changed.
func (w *Watch) Events() uint64 {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.events
}

// noteWrite records a write acquisition of name in every watch of it; m.mu is held.
func (m *Map) noteWrite(name string) {
	for _, w := range m.watches {
		if strings.HasPrefix(name, w.prefix) {
			w.changes[name]++
			w.writers[name]++
			w.events++
		}
	}
}

// noteDone records the end of an acquisition of name (write says which kind, last that
// nobody holds or waits for name any more) in every watch of it; m.mu is held.
func (m *Map) noteDone(name string, write, last bool) {
	for _, w := range m.watches {
		if !strings.HasPrefix(name, w.prefix) {
			continue
		}
		if write && w.writers[name] > 0 {
			if w.writers[name]--; w.writers[name] == 0 {
				delete(w.writers, name)
			}
			w.events++
		}
		if last && w.initial[name] {
			delete(w.initial, name)
			w.changes[name]++
			w.events++
		}
	}
}
