// Package meta is the on-disk format of Flashstor's object metadata: the file each drive
// keeps for every object (its "%m" file), the records of multipart uploads and the
// configuration record of each bucket.
//
// # Object file, format version 1
//
//	magic    4 bytes  "FSTO"
//	version  1 byte   1
//	hlen     uvarint  length of the header
//	header   hlen bytes, the fields below in this order
//	crc      4 bytes  CRC-32C (Castagnoli) of header, little endian
//	inline   the rest of the file: this drive's framed erasure shard, when the object's
//	         data is kept inline (flag bit 0); absent otherwise
//
// Header fields (uvarint and varint are encoding/binary's; a string or byte slice is a
// uvarint length and the bytes; a time is a varint of Unix nanoseconds, MinInt64 for none):
//
//	versionID     16 bytes  random per write; drives agree on an object when their IDs match
//	dataDir       16 bytes  name of the object's data directory; zero when inline or empty
//	modTime       time
//	size          varint    the object's length in bytes
//	etag          string    hex MD5 of a single put, or "<md5 of md5s>-<parts>"
//	dataShards    1 byte    k
//	parityShards  1 byte    m
//	blockSize     uvarint   erasure stripe size in bytes
//	index         1 byte    the shard this drive holds (0-based)
//	distribution  bytes     distribution[i] is the shard held by drive i of the set
//	bitrot        1 byte    the bitrot checksum algorithm (erasure.BitrotAlgorithm)
//	flags         uvarint   bit 0: data inline
//	parts         uvarint count, then for each: number uvarint, size varint, etag string,
//	              checksum string
//	metadata      uvarint count, then key string, value string, sorted by key
//
// # Object file, format version 2: the versions of a key
//
// A key of a versioned bucket (versioning Enabled or Suspended, or object lock) keeps every
// version in its one metadata file, so that a write of any version is one atomic rename
// of that file, under the key's lock, as in format 1. Format 2 is format 1's framing with
// version byte 2 and this header:
//
//	versionID     16 bytes  the record's write id (random per write of the file, as above)
//	latest        the format 1 fields from dataDir to metadata, of the latest version; its
//	              flags add bit 1: delete marker, bit 2: legal hold
//	latest v2     id 16 bytes (S3 version id; all zero for the null version),
//	              retention mode 1 byte (0 none, 1 GOVERNANCE, 2 COMPLIANCE),
//	              retain-until time, inline length uvarint
//	count         uvarint, the number of noncurrent versions (at most MaxVersions-1)
//	noncurrent    newest first, each: the format 1 fields from dataDir to metadata without
//	              the shard index byte, then its v2 fields as above
//
// The inline part is the latest version's inline data followed by each noncurrent
// version's, of the lengths the header gives. A noncurrent version's shard index is not
// stored: it is distribution[p], p being this drive's position (where the latest version's
// distribution holds its index), so that the header of a noncurrent version is the same
// bytes on every drive. A delete marker has no data, parts nor data directory; its
// geometry is the set's (it decides the marker's write quorum).
//
// A record that format 1 can hold (a single null version without lock fields: what an
// unversioned bucket writes) is written in format 1, so that an unversioned bucket's
// bytes are those older binaries wrote and read; testdata/ keeps such bytes, and a test
// reads them.
//
// Limits: MaxVersions (10,000) versions per key, delete markers included, and a header of
// at most 8 MiB; a write beyond either fails with ErrTooManyVersions (S3: 400
// TooManyVersions), the record left as it was. The file is read whole on every access to
// its key (a GET of the latest version decodes every version's header), which is what
// the limit bounds; objstore/BENCHMARKS.md has the cost of a key at the limit. A listing
// reads HeaderLength bytes, every version's header but no inline data. Versions written in
// a versioned bucket are never inline (inline data of 10,000 versions would make the file
// large); a format 1 null version that was inline keeps its inline shards when it becomes
// noncurrent, each drive its own (a drive that missed it has none, a missing shard).
//
// # Bucket configuration file, format version 1
//
// Each drive of the first erasure set keeps one per bucket, in its system volume at
// buckets/<bucket>/config, framed like the object file with magic "FSTB" and no inline
// part. Header fields:
//
//	updated    time      when the record was written
//	documents  uvarint count, then name string, document string, sorted by name: the
//	           bucket's sub-resource documents ("versioning", "tagging", "cors", ...)
//
// A reader of version N reads every version up to N; a record of a later version is refused
// with ErrVersion rather than misread. The header's CRC catches bitrot in the metadata
// itself (the inline data carries its own per-block checksums).
package meta
