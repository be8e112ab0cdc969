package local

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/storage"
)

// The redo log's records (redolog.go). Three versions, all read:
//
//   - version 1, a put: "the metadata file at path is data". The field after the data
//     length is zero.
//   - version 2, a removal, with or without a put: the field after the data length is the
//     length of a second path, removed, which follows the data. With a path (path length
//     not zero) it is a rename: "path is data, and the removed path is no more", one record
//     so that a crash redoes both or neither (a torn record fails its checksum). Without a
//     path and data it is a delete.
//   - version 3, a file of the system volume, laid out as version 2: a put ("path is
//     data", no removed path) or a removal (a removed path alone), never both. The only
//     paths it may name are the journal's intent records, SysVolume/JournalDir/<32 hex
//     digits> (redoSysPathValid), so that a record can never write a drive's format, its
//     staging area or anything else of the system volume; versions 1 and 2 may name a
//     path in a bucket only. WriteFile and Delete of such a record are logged.
//
// The header stays at version 1. A binary from before version 2 reads version 1 only and
// skips a version 2 record as torn: after a crash it redoes the puts alone, so a logged
// rename or delete may be undone (the object back at its old key, or at both keys, or a
// deleted object back) but no object is lost, because a rename onto a path the generation
// holds a put for checkpoints first (redoLog.log): the older binary would otherwise redo
// that put over the renamed object.
//
// A binary from before version 3 skips a version 3 record as torn too, block by block
// like any record it cannot read, and goes on with the next one: the puts, renames and
// deletes logged after an intent are redone all the same. Its paths are never named by a
// record of versions 1 and 2, so that skipping it never lets an older record be redone
// over a newer state, and no checkpoint is needed before it (unlike the rename onto a
// logged put). What such a binary loses after a crash is the record itself: an intent
// whose tree write had not reached the disk is missing, and a removed intent may be back
// (the journal's recovery then finds the operation done, as it did when the removal was
// an unsynced unlink). The missing intent is where the logged record is less safe than
// the synced file it replaced: a rename cut between its set's drives, with no intent
// left, can leave the object on fewer than k drives under each key, and the heal then
// removes both (deploy's TestRenameKeyCrashOlderReaderLosesObject). After a crash, a
// drive must therefore be opened once by a binary of version 3 or later (its Open redoes
// the log and checkpoints) before an older one runs on it; a clean stop (Close)
// checkpoints and leaves nothing to redo.

// Record versions after redoVersion (1, a put in a bucket).
const (
	// redoVersionRemove is the version of records holding a removal in a bucket.
	redoVersionRemove = 2
	// redoVersionSys is the version of records of the system volume's journal records.
	redoVersionSys = 3
)

// redoEntry is what one record logs: the metadata file path becomes data, unless path is
// empty; then the file rm is removed, unless rm is empty. Paths are relative to the
// drive's root.
type redoEntry struct {
	path string
	data []byte
	rm   string
}

// redoRecord is one change that a record asks the redo to make: the metadata file path
// becomes data, or with remove, it is removed. A rename's record gives two.
type redoRecord struct {
	seq    uint64
	path   string
	data   []byte
	remove bool
}

// redoRecordLen is the length of a record of paths and data of these lengths.
func redoRecordLen(pathLen, dataLen int) int64 {
	return (int64(redoRecordFixed+pathLen+dataLen) + redoBlock - 1) &^ (redoBlock - 1)
}

// len is the length of e's record.
func (e redoEntry) len() int64 { return redoRecordLen(len(e.path)+len(e.rm), len(e.data)) }

// encodeRedoRecord returns the put record of rel and data, n bytes long (redoRecordLen).
func encodeRedoRecord(gen, nonce, seq uint64, rel string, data []byte, n int64) []byte {
	return encodeRedoEntry(gen, nonce, seq, redoEntry{path: rel, data: data}, n)
}

// version returns the version of e's record: 3 for a path of the system volume, else 1
// without a removal, 2 with one.
func (e redoEntry) version() uint32 {
	switch {
	case isSysPath(e.path) || isSysPath(e.rm):
		return redoVersionSys
	case e.rm != "":
		return redoVersionRemove
	}
	return redoVersion
}

// encodeRedoEntry returns e's record, n bytes long (e.len()), of e.version().
func encodeRedoEntry(gen, nonce, seq uint64, e redoEntry, n int64) []byte {
	b := make([]byte, n)
	version := e.version()
	binary.LittleEndian.PutUint32(b[0:], redoRecordMagic)
	binary.LittleEndian.PutUint32(b[4:], version)
	binary.LittleEndian.PutUint64(b[8:], gen)
	binary.LittleEndian.PutUint64(b[16:], nonce)
	binary.LittleEndian.PutUint64(b[24:], seq)
	binary.LittleEndian.PutUint32(b[32:], uint32(len(e.path)))
	binary.LittleEndian.PutUint32(b[36:], uint32(len(e.data)))
	binary.LittleEndian.PutUint32(b[40:], uint32(len(e.rm)))
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], crcTable))
	end := copy(b[redoRecordFixed:], e.path) + redoRecordFixed
	end += copy(b[end:], e.data)
	end += copy(b[end:], e.rm)
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[redoRecordFixed:end], crcTable))
	return b
}

// encodeRedoHeader returns the header block of generation gen with nonce.
func encodeRedoHeader(gen, nonce uint64) []byte {
	h := make([]byte, redoBlock)
	binary.LittleEndian.PutUint32(h[0:], redoHeaderMagic)
	binary.LittleEndian.PutUint32(h[4:], redoVersion)
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint64(h[16:], nonce)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], crcTable))
	return h
}

type redoHeader struct{ gen, nonce uint64 }

// parseRedoHeader reads the header block at the start of b.
func parseRedoHeader(b []byte) (redoHeader, bool) {
	if len(b) < redoHeaderLen ||
		binary.LittleEndian.Uint32(b[0:]) != redoHeaderMagic ||
		binary.LittleEndian.Uint32(b[4:]) != redoVersion ||
		binary.LittleEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], crcTable) {
		return redoHeader{}, false
	}
	return redoHeader{gen: binary.LittleEndian.Uint64(b[8:]), nonce: binary.LittleEndian.Uint64(b[16:])}, true
}

// parseRedoLog returns the changes the records of the header's generation in b, the log's
// content, ask for, in sequence order (a rename's put before its removal), the last of a
// path only. It never fails: what it cannot read is no record.
func parseRedoLog(b []byte) []redoRecord {
	h, ok := parseRedoHeader(b)
	if !ok {
		return nil
	}
	byPath := make(map[string]redoRecord)
	keep := func(r redoRecord) {
		if old, seen := byPath[r.path]; !seen || old.seq < r.seq {
			byPath[r.path] = r
		}
	}
	for off := redoBlock; off+redoRecordFixed <= len(b); {
		e, seq, n, ok := parseRedoEntry(b[off:], h)
		if !ok {
			off += redoBlock // a torn record, an older generation's, or never written
			continue
		}
		if e.path != "" {
			keep(redoRecord{seq: seq, path: e.path, data: e.data})
		}
		if e.rm != "" {
			keep(redoRecord{seq: seq, path: e.rm, remove: true})
		}
		off += n
	}
	recs := make([]redoRecord, 0, len(byPath))
	for _, r := range byPath {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b redoRecord) int {
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		switch {
		case a.remove == b.remove:
			return strings.Compare(a.path, b.path)
		case b.remove:
			return -1
		}
		return 1
	})
	return recs
}

// parseRedoEntry reads the record at the start of b if it is one of h's generation, whole
// and well formed, and returns what it logs, its sequence number and its length.
func parseRedoEntry(b []byte, h redoHeader) (redoEntry, uint64, int, bool) {
	version := binary.LittleEndian.Uint32(b[4:])
	if binary.LittleEndian.Uint32(b[0:]) != redoRecordMagic ||
		version < redoVersion || version > redoVersionSys ||
		binary.LittleEndian.Uint32(b[44:]) != crc32.Checksum(b[:44], crcTable) ||
		binary.LittleEndian.Uint64(b[8:]) != h.gen || binary.LittleEndian.Uint64(b[16:]) != h.nonce {
		return redoEntry{}, 0, 0, false
	}
	pathLen := int(binary.LittleEndian.Uint32(b[32:]))
	dataLen := int(binary.LittleEndian.Uint32(b[36:]))
	rmLen := 0
	if version >= redoVersionRemove {
		rmLen = int(binary.LittleEndian.Uint32(b[40:]))
	}
	n := redoRecordLen(pathLen+rmLen, dataLen)
	if n > int64(len(b)) {
		return redoEntry{}, 0, 0, false
	}
	payload := b[redoRecordFixed : redoRecordFixed+pathLen+dataLen+rmLen]
	if binary.LittleEndian.Uint32(b[48:]) != crc32.Checksum(payload, crcTable) {
		return redoEntry{}, 0, 0, false
	}
	e := redoEntry{
		path: string(payload[:pathLen]),
		data: payload[pathLen : pathLen+dataLen],
		rm:   string(payload[pathLen+dataLen:]),
	}
	switch {
	case version == redoVersion && !redoPathValid(e.path):
		return redoEntry{}, 0, 0, false
	case version == redoVersionRemove && (!redoPathValid(e.rm) || e.rm == e.path ||
		(e.path == "" && dataLen != 0) || (e.path != "" && !redoPathValid(e.path))):
		return redoEntry{}, 0, 0, false
	case version == redoVersionSys && !(e.rm == "" && redoSysPathValid(e.path) ||
		e.path == "" && dataLen == 0 && redoSysPathValid(e.rm)):
		return redoEntry{}, 0, 0, false
	}
	return e, binary.LittleEndian.Uint64(b[24:]), int(n), true
}

// redoPathValid reports whether rel may be redone: a clean relative path inside a bucket's
// volume (never the system volume).
func redoPathValid(rel string) bool {
	if !validPath(rel) {
		return false
	}
	bucket, rest, ok := strings.Cut(rel, "/")
	return ok && rest != "" && layout.CheckBucketName(bucket) == nil
}

// sysRecordPrefix starts the path, relative to the drive's root, of every system volume
// file a record may name.
const sysRecordPrefix = storage.SysVolume + "/" + storage.JournalDir + "/"

// isSysPath reports whether rel, relative to the drive's root, is in the system volume.
func isSysPath(rel string) bool { return strings.HasPrefix(rel, storage.SysVolume+"/") }

// redoSysPathValid reports whether rel is a system volume path a record may name: one of
// the journal's records, SysVolume/JournalDir/ and the 32 hex digits of its id (what
// package journal names them and reads back), nothing else of the system volume.
func redoSysPathValid(rel string) bool {
	id, ok := strings.CutPrefix(rel, sysRecordPrefix)
	if !ok || len(id) != 32 {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
