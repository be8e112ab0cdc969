package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"time"
)

// Version is the newest record version this binary reads and writes. A record is written
// in the oldest version that has its op (see Record.version), so that an older binary still
// runs the ops it knows.
const Version = 2

// The ops of version 1, then those version 2 added.
const (
	// OpRenamePrefix is a directory rename: every key below Src moves below Dst.
	OpRenamePrefix = "rename-prefix"
	// OpSyncNames makes the names of a file with hard links one file again: every key of
	// Names becomes a copy of Src, content and metadata, with the list of Names in its
	// KeyLists entries and Meta set (both removed when one name is left), and the keys of
	// Removed go.
	OpSyncNames = "sync-names"
	// OpRenameKey (version 2) is the rename of one object: the key Src becomes Dst.
	OpRenameKey = "rename-key"
)

const (
	magic      = "FSJR"
	headerSize = 10
	// maxBody bounds a record's body: records name a few keys, never a listing.
	maxBody = 64 << 10
)

// Errors of Unmarshal and Record.Check.
var (
	ErrCorrupt      = errors.New("journal record corrupt")
	ErrNewerVersion = errors.New("journal record of a newer version")
	ErrUnknownOp    = errors.New("journal record of an unknown op")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one intent: an operation on several keys of a bucket, to be completed if a
// crash interrupts it.
type Record struct {
	// Op says what the record does (OpRenamePrefix, OpSyncNames).
	Op     string `json:"op"`
	Bucket string `json:"bucket"`
	// Src and Dst are the prefixes of a rename-prefix, each ending in "/", or the keys of
	// a rename-key; Src is the key the names of a sync-names copy.
	Src string `json:"src"`
	Dst string `json:"dst,omitempty"`
	// NoReplace (rename-key) makes the rename fail instead of replacing an object at Dst.
	NoReplace bool `json:"noReplace,omitempty"`
	// SrcVersion (rename-key) is the version id (hex) of the object at Src when the rename
	// began. A record's removal is not synced, so a crash may bring back the record of a
	// rename that finished; if the key Src was written again since, its object is a later
	// one, which the recovery must leave where it is. Empty in the records of older
	// binaries (which the recovery completes as before).
	SrcVersion string `json:"srcVersion,omitempty"`
	// DeleteDst removes the object at key Dst before the keys move.
	DeleteDst bool `json:"deleteDst,omitempty"`
	// KeyLists name metadata entries that hold URL-escaped JSON lists of keys.
	KeyLists []string `json:"keyLists,omitempty"`
	// Names and Removed are the keys a sync-names keeps and removes; Meta the metadata
	// entries it sets on every name kept.
	Names   []string          `json:"names,omitempty"`
	Removed []string          `json:"removed,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Created time.Time         `json:"created"`
}

// Check reports whether this binary knows how to run r: ErrUnknownOp, or ErrCorrupt for a
// record whose fields cannot be those of its op.
func (r *Record) Check() error {
	switch r.Op {
	case OpRenamePrefix:
		if r.Bucket == "" || !validPrefix(r.Src) || !validPrefix(r.Dst) || r.Src == r.Dst ||
			len(r.Dst) > len(r.Src) && r.Dst[:len(r.Src)] == r.Src {
			return fmt.Errorf("%w: rename-prefix %q to %q in %q", ErrCorrupt, r.Src, r.Dst, r.Bucket)
		}
		return nil
	case OpRenameKey:
		if r.Bucket == "" || r.Src == "" || r.Dst == "" || r.Src == r.Dst {
			return fmt.Errorf("%w: rename-key %q to %q in %q", ErrCorrupt, r.Src, r.Dst, r.Bucket)
		}
		return nil
	case OpSyncNames:
		if r.Bucket == "" || r.Src == "" || !slices.Contains(r.Names, r.Src) || slices.Contains(r.Names, "") {
			return fmt.Errorf("%w: sync-names of %q (%d names) in %q", ErrCorrupt, r.Src, len(r.Names), r.Bucket)
		}
		return nil
	default:
		return fmt.Errorf("%w: %q", ErrUnknownOp, r.Op)
	}
}

// Touches reports whether r's operation may change the object at key of r.Bucket: a key
// it moves, copies, replaces or removes. A record of an op this binary does not know names
// every key: what it does is unknown.
func (r *Record) Touches(key string) bool {
	switch r.Op {
	case OpRenamePrefix:
		return strings.HasPrefix(key, r.Src) || strings.HasPrefix(key, r.Dst)
	case OpSyncNames:
		return key == r.Src || slices.Contains(r.Names, key) || slices.Contains(r.Removed, key)
	case OpRenameKey:
		return key == r.Src || key == r.Dst
	default:
		return true
	}
}

// validPrefix reports whether p names a directory: not empty, ending in "/".
func validPrefix(p string) bool { return len(p) > 1 && p[len(p)-1] == '/' }

// version is the oldest record version that has r's op.
func (r *Record) version() byte {
	if r.Op == OpRenameKey {
		return 2
	}
	return 1
}

// Marshal encodes r in the oldest version that has its op.
func (r *Record) Marshal() []byte {
	body, _ := json.Marshal(r) // strings, bools and a time always marshal
	b := make([]byte, headerSize, headerSize+len(body)+4)
	copy(b, magic)
	b[4] = r.version()
	binary.BigEndian.PutUint32(b[6:], uint32(len(body)))
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Unmarshal decodes a record of any version up to Version: ErrCorrupt for bytes that are no
// whole record, ErrNewerVersion for a record this binary is too old to read.
func Unmarshal(b []byte) (*Record, error) {
	if len(b) < headerSize+4 || string(b[:4]) != magic {
		return nil, fmt.Errorf("%w: no header", ErrCorrupt)
	}
	if b[4] > Version {
		return nil, fmt.Errorf("%w: version %d", ErrNewerVersion, b[4])
	}
	if b[4] == 0 || b[5] != 0 {
		return nil, fmt.Errorf("%w: version %d, flags %d", ErrCorrupt, b[4], b[5])
	}
	n := binary.BigEndian.Uint32(b[6:])
	if n > maxBody || int(n) != len(b)-headerSize-4 {
		return nil, fmt.Errorf("%w: body of %d bytes in a record of %d", ErrCorrupt, n, len(b))
	}
	end := headerSize + int(n)
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return nil, fmt.Errorf("%w: checksum", ErrCorrupt)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b[headerSize:end]))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrCorrupt)
	}
	if r.version() > b[4] {
		return nil, fmt.Errorf("%w: op %q in a version %d record", ErrCorrupt, r.Op, b[4])
	}
	return &r, nil
}
