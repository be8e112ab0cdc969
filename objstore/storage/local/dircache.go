package local

import (
	"container/list"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/layout"
)

// walkItem is one name of a directory and the key (or key prefix) it stands for.
type walkItem struct {
	key   string
	name  string
	isDir bool
}

// Directories with at least cacheMinEntries names keep their sorted items between walks,
// so that a listing paged through a large directory reads and sorts it once, not once per
// page. A cached directory is used only while its modification time and inode are unchanged
// and the cache was filled at least cacheSettle after that modification time: a change in
// the same clock tick as the last one would not move the time, so a directory changed too
// recently to tell is read again.
const (
	cacheMinEntries = 512
	cacheMaxItems   = 2_000_000
	cacheSettle     = 2 * time.Second
)

// dirCache holds sorted directory listings, least recently used first out.
type dirCache struct {
	mu sync.Mutex
	// entries, lru and items are guarded by mu; items counts the walkItems held.
	entries map[string]*list.Element
	lru     list.List
	items   int
}

type cachedDir struct {
	path   string
	mtime  int64
	ino    uint64
	sorted []walkItem
}

// dirItems returns the sorted items of the directory at path, whose keys start with
// keyPrefix; internal names are left out at the bucket's top.
func (d *Drive) dirItems(path, keyPrefix string, top bool) ([]walkItem, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	mtime := st.Mtim.Nano()
	key := path + "\x00" + keyPrefix
	if items := d.cache.get(key, mtime, st.Ino); items != nil {
		return items, nil
	}
	readAt := time.Now()
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	items := make([]walkItem, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if top && (name == layout.DataDir || name == layout.BucketMetaFile) {
			continue
		}
		if e.IsDir() {
			if seg, ok := layout.DecodeSegment(name); ok {
				items = append(items, walkItem{key: keyPrefix + seg + "/", name: name, isDir: true})
			}
		} else if e.Type().IsRegular() {
			if seg, ok := layout.ParseMetaName(name); ok {
				items = append(items, walkItem{key: keyPrefix + seg, name: name})
			}
		}
	}
	slices.SortFunc(items, func(a, b walkItem) int { return strings.Compare(a.key, b.key) })
	if len(items) >= cacheMinEntries && readAt.UnixNano()-mtime >= int64(cacheSettle) {
		d.cache.put(&cachedDir{path: key, mtime: mtime, ino: st.Ino, sorted: items})
	}
	return items, nil
}

func (c *dirCache) get(key string, mtime int64, ino uint64) []walkItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		return nil
	}
	cd := el.Value.(*cachedDir)
	if cd.mtime != mtime || cd.ino != ino {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return cd.sorted
}

func (c *dirCache) put(cd *cachedDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	if el := c.entries[cd.path]; el != nil {
		c.remove(el)
	}
	c.entries[cd.path] = c.lru.PushFront(cd)
	c.items += len(cd.sorted)
	for c.items > cacheMaxItems && c.lru.Len() > 1 {
		c.remove(c.lru.Back())
	}
}

// remove drops an element; c.mu is held.
func (c *dirCache) remove(el *list.Element) {
	cd := el.Value.(*cachedDir)
	c.lru.Remove(el)
	delete(c.entries, cd.path)
	c.items -= len(cd.sorted)
}
