package fusefs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"syscall"
)

// Extended attributes: only the user.* namespace is stored, in the metadata entry
// metaXattr as the URL-escaped JSON object {"user.name": "base64 of the value", ...} (ASCII
// only, so that it travels as an HTTP header).
const (
	xattrPrefix = "user."
	// maxXattrValue bounds one value (the kernel's own limit is 64 KiB).
	maxXattrValue = 64 << 10
	// maxXattrTotal bounds the encoded entry, so that an object's metadata stays small.
	maxXattrTotal = 256 << 10
)

// The setxattr flags.
const (
	xattrCreate  = 1
	xattrReplace = 2
)

// errNoAttr is ENODATA, which is ENOATTR on Linux.
const errNoAttr = syscall.ENODATA

// decodeXattrs parses a stored metaXattr entry. A malformed entry is an error, never a
// panic: it may have been written by anyone through S3.
func decodeXattrs(s string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if s == "" {
		return out, nil
	}
	raw, err := url.QueryUnescape(s)
	if err != nil {
		return nil, err
	}
	var enc map[string]string
	if err := json.Unmarshal([]byte(raw), &enc); err != nil {
		return nil, err
	}
	for k, v := range enc {
		if !strings.HasPrefix(k, xattrPrefix) || len(k) == len(xattrPrefix) || len(k) > 255 {
			return nil, errors.New("xattr name outside user.*")
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// encodeXattrs formats xattrs for metaXattr ("" when there are none).
func encodeXattrs(x map[string][]byte) string {
	if len(x) == 0 {
		return ""
	}
	enc := make(map[string]string, len(x))
	for k, v := range x {
		enc[k] = base64.StdEncoding.EncodeToString(v)
	}
	raw, _ := json.Marshal(enc) // a map of strings always marshals
	return url.QueryEscape(string(raw))
}

// getXattr answers getxattr from the stored entry.
func getXattr(stored, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, xattrPrefix) {
		return 0, errNoAttr
	}
	x, err := decodeXattrs(stored)
	if err != nil {
		return 0, errNoAttr
	}
	v, ok := x[attr]
	if !ok {
		return 0, errNoAttr
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

// listXattrs answers listxattr from the stored entry.
func listXattrs(stored string, dest []byte) (uint32, syscall.Errno) {
	x, _ := decodeXattrs(stored)
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(x)) {
		b = append(b, k...)
		b = append(b, 0)
	}
	if len(dest) < len(b) {
		return uint32(len(b)), syscall.ERANGE
	}
	return uint32(copy(dest, b)), 0
}

// setXattr returns the stored entry with attr set to value (or removed, when value is nil).
func setXattr(stored, attr string, value []byte, flags uint32, remove bool) (string, syscall.Errno) {
	if !strings.HasPrefix(attr, xattrPrefix) || len(attr) == len(xattrPrefix) {
		return "", syscall.ENOTSUP
	}
	if len(value) > maxXattrValue {
		return "", syscall.E2BIG
	}
	x, err := decodeXattrs(stored)
	if err != nil {
		x = map[string][]byte{} // a foreign, malformed entry is replaced
	}
	_, exists := x[attr]
	switch {
	case remove && !exists:
		return "", errNoAttr
	case remove:
		delete(x, attr)
	case flags&xattrCreate != 0 && exists:
		return "", syscall.EEXIST
	case flags&xattrReplace != 0 && !exists:
		return "", errNoAttr
	default:
		x[attr] = slices.Clone(value)
	}
	out := encodeXattrs(x)
	if len(out) > maxXattrTotal {
		return "", syscall.ENOSPC
	}
	return out, 0
}

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	return getXattr(n.meta[metaXattr], attr, dest)
}

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	return listXattrs(n.meta[metaXattr], dest)
}

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.editXattr(attr, data, flags, false)
}

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.editXattr(attr, nil, 0, true)
}

// editXattr changes one xattr: stored at once for a clean file, with the content for a
// dirty one.
func (n *fileNode) editXattr(attr string, data []byte, flags uint32, remove bool) syscall.Errno {
	n.mu.Lock()
	defer n.unlock()
	n.refreshLocked()
	out, errno := setXattr(n.meta[metaXattr], attr, data, flags, remove)
	if errno != 0 {
		return errno
	}
	if out == "" {
		delete(n.meta, metaXattr)
	} else {
		n.meta[metaXattr] = out
	}
	n.metaDirty = true
	return n.storeMetaLocked()
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if _, errno := d.loadAttrs(); errno != 0 {
		return 0, errno
	}
	d.mu.Lock()
	stored := d.meta[metaXattr]
	d.mu.Unlock()
	return getXattr(stored, attr, dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if _, errno := d.loadAttrs(); errno != 0 {
		return 0, errno
	}
	d.mu.Lock()
	stored := d.meta[metaXattr]
	d.mu.Unlock()
	return listXattrs(stored, dest)
}

func (d *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return d.editXattr(attr, data, flags, false)
}

func (d *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return d.editXattr(attr, nil, 0, true)
}

// editXattr changes one xattr of a directory, in its marker (created if needed). A bucket's
// top has no marker to hold them.
func (d *dirNode) editXattr(attr string, data []byte, flags uint32, remove bool) syscall.Errno {
	a, errno := d.loadAttrs()
	if errno != 0 {
		return errno
	}
	d.mu.Lock()
	top, stored := d.loc() == "", d.meta[metaXattr]
	d.mu.Unlock()
	if top {
		return syscall.ENOTSUP
	}
	out, errno := setXattr(stored, attr, data, flags, remove)
	if errno != 0 {
		return errno
	}
	return d.saveMarker(func(md map[string]string) {
		putPosix(md, a, true)
		if out == "" {
			delete(md, metaXattr)
		} else {
			md[metaXattr] = out
		}
	}, a)
}
