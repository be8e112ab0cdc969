package fusefs

import (
	"strings"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
)

// notifyWait bounds how long a change made by someone else waits for the kernel to drop its
// caches. The wait is what makes a read through the mount right after an S3 PUT see the new
// object; the bound breaks the one cycle it can close: a mount request that holds a kernel
// directory lock and waits for the core key lock held by the very writer that waits here.
const notifyWait = 2 * time.Second

// feed turns the core's change feed into cache invalidations. The callback runs inside the
// writer's core call, under that key's core lock: it takes no fusefs lock and does no I/O.
// It marks the nodes it finds stale at once (atomics), then hands the kernel notifications
// to the feed's goroutine, which sends them without any fusefs lock held, and waits for
// them (up to notifyWait).
type feed struct {
	f       *fsys
	cancel  func()
	queue   chan batch
	quit    chan struct{}
	stopped chan struct{}
}

// batch is the kernel notifications for one change.
type batch struct {
	ops  []func()
	done chan struct{}
}

func (f *fsys) startFeed() {
	fd := &feed{f: f, queue: make(chan batch, 256), quit: make(chan struct{}), stopped: make(chan struct{})}
	f.feed = fd
	go fd.run()
	fd.cancel = f.layer.Subscribe("", fd.onEvent)
}

func (fd *feed) stop() {
	fd.cancel()
	close(fd.quit)
	<-fd.stopped
}

func (fd *feed) run() {
	defer close(fd.stopped)
	for {
		select {
		case <-fd.quit:
			return
		case b := <-fd.queue:
			for _, op := range b.ops {
				op()
			}
			close(b.done)
		}
	}
}

func (fd *feed) onEvent(e objstore.Event) {
	if e.Origin == fd.f.origin {
		return // the kernel saw this change go through it
	}
	var ops []func()
	switch e.Type {
	case objstore.EventPut:
		ops = fd.changed(e.Bucket, e.Key, e.Info, false)
	case objstore.EventMetadata:
		ops = fd.changed(e.Bucket, e.Key, e.Info, true)
	case objstore.EventDelete:
		ops = fd.removed(e.Bucket, e.Key)
	case objstore.EventRename:
		ops = append(fd.removed(e.Bucket, e.Key), fd.changed(e.Bucket, e.NewKey, e.Info, false)...)
	case objstore.EventResync:
		ops = fd.resync(e.Bucket)
	case objstore.EventBucketCreated, objstore.EventBucketDeleted:
		root := fd.f.root.EmbeddedInode()
		ops = []func(){func() { root.NotifyEntry(e.Bucket) }}
	}
	if len(ops) == 0 {
		return
	}
	b := batch{ops: ops, done: make(chan struct{})}
	timer := time.NewTimer(notifyWait)
	defer timer.Stop()
	select {
	case fd.queue <- b:
	case <-fd.quit:
		return
	case <-timer.C:
		fd.f.log.Warn("fusefs: kernel cache invalidation queue full; dropping one", "bucket", e.Bucket, "key", e.Key)
		return
	}
	select {
	case <-b.done:
	case <-fd.quit:
	case <-timer.C:
		fd.f.log.Warn("fusefs: kernel cache invalidation still pending", "bucket", e.Bucket, "key", e.Key)
	}
}

// walk follows key's directories down the tree of nodes the kernel knows. It returns the
// directory holding key's last segment and that segment, or, when the walk stops early (a
// directory the kernel does not know, or a file where a directory now is), the node where
// it stopped and the name to drop from the kernel's entry cache there. marker tells that
// key is a directory marker.
func (fd *feed) walk(bucket, key string) (dir *fs.Inode, name string, complete, marker bool) {
	root := fd.f.root.EmbeddedInode()
	cur := root.GetChild(bucket)
	if cur == nil {
		return nil, "", false, false
	}
	marker = strings.HasSuffix(key, "/")
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for i, seg := range segs {
		d, ok := cur.Operations().(*dirNode)
		if !ok || seg == "" {
			return nil, "", false, marker
		}
		d.childGen.Add(1)
		if i == len(segs)-1 {
			return cur, seg, true, marker
		}
		next := cur.GetChild(seg)
		if next == nil {
			return cur, seg, false, marker
		}
		if _, isDir := next.Operations().(*dirNode); !isDir {
			return cur, seg, false, marker
		}
		cur = next
	}
	return nil, "", false, marker
}

// changed handles a put or a metadata change by someone else.
func (fd *feed) changed(bucket, key string, info objstore.ObjectInfo, metaOnly bool) []func() {
	dir, name, complete, marker := fd.walk(bucket, key)
	if dir == nil {
		return nil
	}
	child := dir.GetChild(name)
	if !complete || child == nil {
		// A name the kernel may hold as absent (a negative entry) now exists.
		return []func(){func() { dir.NotifyEntry(name) }}
	}
	switch n := child.Operations().(type) {
	case *fileNode:
		if !marker && n.detach(key, &info) {
			// One name of a hard-linked file was overwritten: it is a file of its own now,
			// the others are unchanged but for their link count.
			return []func(){func() { dir.NotifyEntry(name) }, func() { child.NotifyContent(-1, 0) }}
		}
		n.gen.Add(1)
		if marker || attrsFromInfo(info, false, owner{}).mode&syscall.S_IFMT != n.fileType() {
			// The name is now a directory, or a file of another type: look it up again.
			return []func(){func() { dir.NotifyEntry(name) }}
		}
		off := int64(0)
		if metaOnly {
			off = -1 // attributes only
		}
		return []func(){func() { child.NotifyContent(off, 0) }}
	case *dirNode:
		if marker {
			n.gen.Add(1)
			return []func(){func() { child.NotifyContent(-1, 0) }}
		}
	}
	return nil // a file hidden by the directory of its name
}

// removed handles a delete (or the source of a rename) by someone else. Directories that
// existed only through the removed key vanish with it; the feed's goroutine checks for
// that (a listing takes no key lock).
func (fd *feed) removed(bucket, key string) []func() {
	dir, name, complete, marker := fd.walk(bucket, key)
	if dir == nil || !complete {
		return nil
	}
	var ops []func()
	if child := dir.GetChild(name); child != nil {
		switch n := child.Operations().(type) {
		case *fileNode:
			if !marker && n.detach(key, nil) {
				// One name of a hard-linked file went: the others stay.
				ops = append(ops, func() { dir.NotifyEntry(name) }, func() { child.NotifyContent(-1, 0) })
			} else if !marker {
				n.gen.Add(1)
				n.gone.Store(true)
				ops = append(ops, func() { dir.NotifyDelete(name, child) })
			}
		case *dirNode:
			if marker {
				n.gen.Add(1)
				ops = append(ops, func() { child.NotifyContent(-1, 0) })
			}
		}
	}
	ops = append(ops, func() { fd.dropEmptyDirs(bucket, dir, name, marker) })
	return ops
}

// dropEmptyDirs invalidates the entries of directories left without any key: the removed
// key's own directory (if it was a marker) and its ancestors, deepest first.
func (fd *feed) dropEmptyDirs(bucket string, dir *fs.Inode, name string, marker bool) {
	if marker {
		if d, ok := dir.Operations().(*dirNode); ok {
			if fd.isEmpty(bucket, d.loc()+name+"/") {
				dir.NotifyEntry(name)
			} else {
				return
			}
		}
	}
	for cur := dir; ; {
		d, ok := cur.Operations().(*dirNode)
		if !ok {
			return
		}
		prefix := d.loc()
		if prefix == "" || !fd.isEmpty(bucket, prefix) {
			return
		}
		pname, parent := cur.Parent()
		if parent == nil {
			return
		}
		parent.NotifyEntry(pname)
		cur = parent
	}
}

// isEmpty reports whether no key starts with prefix.
func (fd *feed) isEmpty(bucket, prefix string) bool {
	res, err := fd.f.layer.ListObjects(fd.f.ctx, bucket, objstore.ListOptions{Prefix: prefix, Delimiter: "/", MaxKeys: 1})
	return err == nil && len(res.Objects)+len(res.Prefixes) == 0
}

// resync handles changes that may have been missed (a cluster's relay that lost events on
// their way to this node): every node the kernel knows under bucket ("" : every bucket)
// is marked stale and the kernel drops its entries, attributes and pages, so that the
// next access asks the core again.
func (fd *feed) resync(bucket string) []func() {
	root := fd.f.root.EmbeddedInode()
	var ops []func()
	var visit func(dir *fs.Inode)
	visit = func(dir *fs.Inode) {
		if d, ok := dir.Operations().(*dirNode); ok {
			d.gen.Add(1)
			d.childGen.Add(1)
			ops = append(ops, func() { dir.NotifyContent(-1, 0) })
		}
		for name, child := range dir.Children() {
			ops = append(ops, func() { dir.NotifyEntry(name) })
			switch n := child.Operations().(type) {
			case *fileNode:
				n.gen.Add(1)
				ops = append(ops, func() { child.NotifyContent(0, 0) })
			case *dirNode:
				visit(child)
			}
		}
	}
	for name, b := range root.Children() {
		if bucket == "" || name == bucket {
			ops = append(ops, func() { root.NotifyEntry(name) })
			visit(b)
		}
	}
	return ops
}
