// Package erasure is Flashstor's streaming Reed-Solomon codec with bitrot protection. It moves
// an object's bytes between an io.Reader (or io.Writer) and k data + m parity shard streams,
// one per drive, and knows nothing of buckets, files or drives.
//
// # Geometry
//
// A Codec has k data shards, m parity shards (1 <= k, 0 <= m, k+m <= 16) and a block size B.
// An object of size bytes is cut into stripes of B bytes; the last stripe holds the remaining
// size mod B bytes when that is not zero. A stripe of L bytes is split into k data blocks of
// ceil(L/k) bytes each (data block i holds stripe bytes [i*ceil(L/k), (i+1)*ceil(L/k)), the
// end of the last blocks padded with zero bytes), from which Reed-Solomon (the systematic
// Vandermonde-derived matrix of github.com/klauspost/reedsolomon, default options) computes m
// parity blocks of the same length. So every full stripe has blocks of ceil(B/k) bytes and
// only the last stripe may have shorter ones. An object of size 0 has no stripe.
//
// # Shard file format
//
// Shard file i (i < k: data, i >= k: parity) is the concatenation, stripe after stripe, of
//
//	checksum(block) || block
//
// where block is shard i's block of that stripe and checksum is the object's BitrotAlgorithm
// over those block bytes alone, stored in the algorithm's fixed-size form (see the
// BitrotAlgorithm constants). There is no header, trailer or padding. The length of a shard
// file and the offset of every block in it are therefore pure functions of (size, B, k,
// checksum size): see Codec.ShardFileSize, Codec.BlockOffset and Codec.BlockSize. A shard file
// of an object of size 0 is empty.
//
// The caller stores k, m, B and the BitrotAlgorithm in the object's metadata; together with
// the object size they are all that is needed to read the shards back. The checksum covers one
// block and nothing else: it detects a block whose bytes changed, not a whole shard file that
// was swapped for another object's or another index's. Telling shard files apart is the
// object layer's job (its metadata names which file is which shard of which version).
//
// # Concurrency and buffers
//
// A Codec is immutable and safe for concurrent use; build one per geometry and reuse it. Each
// call works on two stripe buffers from the Codec's pool and keeps two stripes in flight:
// Encode reads stripe s+1 while an encoder goroutine computes stripe s's parity and one
// goroutine per drive checksums and writes its block; Decode reads and verifies stripe s+1
// (one goroutine per shard it needs) while stripe s is written to the destination. A slow
// drive therefore holds up the others by at most two stripes. Every call waits for every
// in-flight Read, ReadAt and Write to return before it returns: io.Reader, io.ReaderAt and
// io.Writer calls cannot be interrupted, so a drive that hangs must be given a timeout by the
// caller's drive layer. A cancelled context stops a call at the next stripe.
package erasure
