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
