package fusefs

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// Hard links (SEMANTICS.md, "Hard links"). An object has one key, so every name of a
// link group is an object of its own holding a full copy of the content: S3 clients see
// each name as an ordinary object, and a PUT or DELETE of one name through S3 touches that
// name only. Two metadata entries, the same on every name, make them one file for the
// mount:
//
//   - metaLinkGroup, a random id naming the group;
//   - metaLinks, the keys of every name of the group (URL-escaped JSON list).
//
// A name belongs to a group only while its object carries the group's id and lists its
// own key: an object copied by S3 from a name (which copies the metadata) or a name
// overwritten by S3 (which drops it) is a file of its own. The mount presents a group as
// one node (one inode number, nlink = names found); it reads the first name (fileNode.key)
// and, after every commit or metadata change, copies the file to the other names
// (fileNode.links), so that they never differ for long.
const (
	metaLinkGroup = "x-amz-meta-flashstor-link-group"
	metaLinks     = "x-amz-meta-flashstor-links"
	// maxLinksMeta bounds the encoded list of names, as the xattrs are bounded: a group
	// whose list would grow past it refuses further links (EMLINK).
	maxLinksMeta = 64 << 10
)

// linkGroups finds the live node of a link group, so that a lookup of any of its names
// returns the node (and inode) the others have. One per mount.
type linkGroups struct {
	// mu guards nodes. Lock order: a file node's mu before mu; no core call under mu.
	mu sync.Mutex
	// nodes maps a group id to its node. GUARDED_BY(mu).
	nodes map[string]*fileNode
}

func (g *linkGroups) get(id string) *fileNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[id]
}

// claim makes n id's node unless a live node has that place, which it returns then: of
// two lookups of two names racing, both end on one node.
func (g *linkGroups) claim(id string, n *fileNode) *fileNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	if o := g.nodes[id]; o != nil && o != n {
		return o
	}
	if g.nodes == nil {
		g.nodes = map[string]*fileNode{}
	}
	g.nodes[id] = n
	return n
}

// drop forgets n as id's node, unless another node took its place.
func (g *linkGroups) drop(id string, n *fileNode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.nodes[id] == n {
		delete(g.nodes, id)
	}
}

// newGroupID returns a random link-group id.
func newGroupID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24)
	return hex.EncodeToString(b[:])
}

func encodeLinks(names []string) string {
	b, _ := json.Marshal(names) // a []string always marshals
	return url.QueryEscape(string(b))
}

// groupOf returns the link group that md puts key in and the names it lists, or ok false
// when key is in no group (no link metadata, malformed, or a list without key).
func groupOf(md map[string]string, key string) (id string, names []string, ok bool) {
	id = md[metaLinkGroup]
	if id == "" {
		return "", nil, false
	}
	s, err := url.QueryUnescape(md[metaLinks])
	if err != nil || json.Unmarshal([]byte(s), &names) != nil || !slices.Contains(names, key) {
		return "", nil, false
	}
	return id, names, true
}

// namesLocked returns every name of the file, the one it reads first.
func (n *fileNode) namesLocked() []string {
	return append([]string{n.key}, n.links...)
}

// setLinksMetaLocked records the file's names in its metadata (to store next), or drops
// the link metadata when one name is left: the file then is in no group, and the map of
// groups lets go of it.
func (n *fileNode) setLinksMetaLocked(id string) {
	if len(n.links) == 0 {
		n.fsys.groups.drop(id, n)
		delete(n.meta, metaLinkGroup)
		delete(n.meta, metaLinks)
		return
	}
	n.meta[metaLinkGroup] = id
	n.meta[metaLinks] = encodeLinks(n.namesLocked())
}

// dropNameLocked removes key from the file's names; the first name left becomes the one
// read. It reports whether key was a name of a group that keeps others.
func (n *fileNode) dropNameLocked(key string) bool {
	if len(n.links) == 0 {
		return false
	}
	switch i := slices.Index(n.links, key); {
	case key == n.key:
		n.key, n.links = n.links[0], n.links[1:]
	case i >= 0:
		n.links = slices.Delete(slices.Clone(n.links), i, i+1)
	default:
		return false
	}
	return true
}

// link adds key as another name of the file: a copy of its committed object, carrying
// the group's metadata, which every other name then gets too. EEXIST if key exists.
func (n *fileNode) link(key string) syscall.Errno {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	if n.unlinked || n.gone.Load() {
		return syscall.ENOENT
	}
	if errno := n.commitLocked(); errno != 0 {
		return errno
	}
	id := n.meta[metaLinkGroup]
	if id == "" {
		id = newGroupID()
	}
	names := append(n.namesLocked(), key)
	if len(encodeLinks(names)) > maxLinksMeta {
		return syscall.EMLINK
	}
	if _, err := n.fsys.layer.StatObject(n.fsys.ctx, n.bucket, key); err == nil {
		return syscall.EEXIST // checked before the intent, which would replace it
	}
	end, errno := n.beginGroupLocked(id, n.key, names, nil)
	if errno != 0 {
		return errno
	}
	md := n.objectMetaLocked()
	md[metaLinkGroup], md[metaLinks] = id, encodeLinks(names)
	_, err := n.fsys.layer.CopyObject(n.fsys.ctx, objstore.ObjectRef{Bucket: n.bucket, Key: n.key},
		objstore.ObjectRef{Bucket: n.bucket, Key: key}, objstore.CopyOptions{
			ReplaceMetadata: true, Metadata: md,
			Preconditions: objstore.Preconditions{IfNoneMatch: true},
		})
	if err != nil {
		end(true) // no name changed
		return toErrno(err)
	}
	n.links = append(n.links, key)
	n.setLinksMetaLocked(id)
	n.attrs.ctime = time.Now() // link(2) changes the file's ctime
	n.metaDirty = true
	n.fsys.groups.claim(id, n)
	errno = n.storeMetaUnjournaledLocked()
	end(errno == 0)
	return errno
}

// unlinkName removes one name of a file that keeps others: its object goes and the names
// left get the shorter list. It reports false (and does nothing) when key is the file's
// only name, which unlink then handles.
func (n *fileNode) unlinkName(key string) (bool, syscall.Errno) {
	n.mu.Lock()
	defer n.unlock()
	if n.unlinked || len(n.links) == 0 {
		return false, 0
	}
	if n.c.state == stateStream {
		// The stream's put goes to the first name, which may be the one going: it ends
		// first, so that it cannot bring the name back.
		if errno := n.finishStreamLocked(); errno != 0 {
			return true, errno
		}
	}
	id := n.info.Metadata[metaLinkGroup]
	if !n.dropNameLocked(key) {
		return false, 0
	}
	end, errno := n.beginGroupLocked(id, n.key, n.namesLocked(), []string{key})
	if errno != 0 {
		n.links = append(n.links, key)
		return true, errno
	}
	err := n.fsys.layer.DeleteObject(n.fsys.ctx, n.bucket, key)
	if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
		end(true)
		n.links = append(n.links, key) // still there: the file keeps the name
		return true, toErrno(err)
	}
	n.setLinksMetaLocked(id)
	n.attrs.ctime = time.Now()
	n.metaDirty = true
	errno = n.storeMetaUnjournaledLocked()
	end(errno == 0)
	return true, errno
}

// renameNameLocked records that the name from is now to, and stores the new list (within
// the intent the rename began: beginRenameLocked).
func (n *fileNode) renameNameLocked(from, to string) syscall.Errno {
	if n.key == from {
		n.key = to
	} else if i := slices.Index(n.links, from); i >= 0 {
		n.links = slices.Clone(n.links)
		n.links[i] = to
	}
	if len(n.links) == 0 {
		return 0
	}
	n.setLinksMetaLocked(n.meta[metaLinkGroup])
	n.metaDirty = true
	return n.storeMetaUnjournaledLocked()
}

// beginRenameLocked commits, before a name of a file with several names is renamed from
// from to to, the intent that the names end as the list with to for from. It copies
// another name, never the one moving.
func (n *fileNode) beginRenameLocked(from, to string) (func(whole bool), syscall.Errno) {
	if len(n.links) == 0 {
		return func(bool) {}, 0
	}
	names := n.namesLocked()
	src := names[0]
	if src == from {
		src = names[1]
	}
	for i, k := range names {
		if k == from {
			names[i] = to
		}
	}
	return n.beginGroupLocked(n.meta[metaLinkGroup], src, names, []string{from})
}

// beginNamesLocked commits the intent that the file's names end as names (src the one
// the others copy), within its group.
func (n *fileNode) beginNamesLocked(src string, names, removed []string) (func(whole bool), syscall.Errno) {
	return n.beginGroupLocked(n.meta[metaLinkGroup], src, names, removed)
}

// beginGroupLocked commits, through the core's journal, the intent of a change to the
// names of a file of group id: names are the names once it is made, each to be a copy of
// src, and removed the names it removes. A crash before end(true) is followed, at the
// core's next start, by the completion of the change (every name then a copy of src, with
// the true list of names), so that no two names differ and every count is true. end(false)
// leaves it to the core's recovery. Without a journal in the layer, end does nothing.
func (n *fileNode) beginGroupLocked(id, src string, names, removed []string) (end func(whole bool), errno syscall.Errno) {
	ns, ok := n.fsys.layer.(objstore.NameSyncer)
	if !ok {
		return func(bool) {}, 0
	}
	done, err := ns.BeginNameSync(n.fsys.ctx, n.bucket, objstore.NameSync{
		Src: src, Names: names, Removed: removed, KeyList: metaLinks,
		Meta: map[string]string{metaLinkGroup: id},
	})
	if err != nil {
		return nil, toErrno(err)
	}
	return func(whole bool) {
		if err := done(whole); err != nil {
			n.fsys.log.Warn("fusefs: the intent of a change to linked names stays", "bucket", n.bucket, "key", src, "err", err)
		}
	}, 0
}

// joinLinks makes the node of a name just looked up the node of its whole group: the
// other listed names that still belong to the group become its links (a name S3 deleted or
// overwrote is left out), and the mount finds the node again by the group's id. It returns
// the group's node: n, or the node another lookup registered meanwhile.
func (n *fileNode) joinLinks(id string, names []string) *fileNode {
	n.mu.Lock()
	defer n.unlock()
	for _, k := range names {
		if k == n.key || slices.Contains(n.links, k) {
			continue
		}
		info, err := n.fsys.layer.StatObject(n.fsys.ctx, n.bucket, k)
		if err != nil {
			continue
		}
		if gid, _, ok := groupOf(info.Metadata, k); ok && gid == id {
			n.links = append(n.links, k)
		}
	}
	n.setLinksMetaLocked(id)
	if len(n.links) == 0 {
		return n
	}
	return n.fsys.groups.claim(id, n)
}

// addName adds key to the names of a live group node found by a lookup of key.
func (n *fileNode) addName(key string) bool {
	n.mu.Lock()
	defer n.unlock()
	if n.unlinked || n.gone.Load() {
		return false
	}
	if key != n.key && !slices.Contains(n.links, key) {
		n.links = append(n.links, key)
		n.setLinksMetaLocked(n.meta[metaLinkGroup])
	}
	return true
}

// syncLinksLocked copies the committed object, content and metadata, to the file's other
// names: after a commit of new content. A name removed meanwhile (by S3) is left out.
func (n *fileNode) syncLinksLocked() syscall.Errno {
	for _, k := range n.links {
		_, err := n.fsys.layer.CopyObject(n.fsys.ctx, objstore.ObjectRef{Bucket: n.bucket, Key: n.key},
			objstore.ObjectRef{Bucket: n.bucket, Key: k}, objstore.CopyOptions{})
		if err != nil {
			return toErrno(err)
		}
	}
	return 0
}

// patchLinksLocked applies a metadata update made to the first name to the others.
func (n *fileNode) patchLinksLocked(patch objstore.MetadataPatch) syscall.Errno {
	for _, k := range n.links {
		_, err := n.fsys.layer.UpdateObjectMetadata(n.fsys.ctx, n.bucket, k, patch)
		if err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
			return toErrno(err)
		}
	}
	return 0
}

// moveNamesLocked renames the file's names (key and links) that a directory rename moved
// from below from to below to.
func (n *fileNode) moveNamesLocked(from, to string) {
	moved := false
	if strings.HasPrefix(n.key, from) {
		n.key, moved = to+n.key[len(from):], true
	}
	n.links = slices.Clone(n.links)
	for i, k := range n.links {
		if strings.HasPrefix(k, from) {
			n.links[i], moved = to+k[len(from):], true
		}
	}
	if moved && len(n.links) > 0 {
		n.setLinksMetaLocked(n.meta[metaLinkGroup])
	}
}

// relinkMoved stores the new lists of names of the link groups that a directory rename
// moved names of (objs, the keys as they were): every name of such a group gets the list
// with the moved keys renamed.
func relinkMoved(f *fsys, bucket string, objs []objstore.ObjectInfo, from, to string) syscall.Errno {
	done := map[string]bool{}
	for _, o := range objs {
		id, names, ok := groupOf(o.Metadata, o.Key)
		if !ok || done[id] {
			continue
		}
		done[id] = true
		for i, k := range names {
			if strings.HasPrefix(k, from) {
				names[i] = to + k[len(from):]
			}
		}
		patch := objstore.MetadataPatch{Set: map[string]string{metaLinks: encodeLinks(names)}}
		for _, k := range names {
			info, err := f.layer.StatObject(f.ctx, bucket, k)
			if err != nil || info.Metadata[metaLinkGroup] != id {
				continue // a name no longer in the group keeps its metadata
			}
			if _, err := f.layer.UpdateObjectMetadata(f.ctx, bucket, k, patch); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
				return toErrno(err)
			}
		}
	}
	return 0
}

// detach removes key from the names of a file with hard links after someone else deleted
// or overwrote that name (the change feed): the others stay one file. It reports false
// when key is no such name (the file's only name, or not a name of it).
func (n *fileNode) detach(key string, info *objstore.ObjectInfo) bool {
	n.mu.Lock()
	defer n.unlock()
	if info != nil {
		if id, _, ok := groupOf(info.Metadata, key); ok && id == n.meta[metaLinkGroup] {
			return false // still a name of the group (a metadata change)
		}
	}
	if !n.dropNameLocked(key) {
		return false
	}
	n.setLinksMetaLocked(n.meta[metaLinkGroup])
	n.reload = true
	return true
}
