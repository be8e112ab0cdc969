package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
)

// Limits of the aws-chunked framing. They bound the memory a hostile body can make the
// decoder use; real clients stay far below them.
const (
	// minChunkSize is S3's smallest allowed signed chunk, the last one excepted.
	minChunkSize = 8192
	// maxChunkHeader bounds a chunk header or trailer line (the bufio buffer size).
	maxChunkHeader = 4096
	// maxChunkSize bounds one chunk's declared size when no decoded length is given.
	maxChunkSize = 1 << 40
	// maxTrailerLines bounds the lines of the trailer section.
	maxTrailerLines = 16
)

// emptySHA256Hex is hex(SHA-256("")), the "headers" hash of every chunk string to sign.
const emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

type chunkState uint8

const (
	stHeader chunkState = iota
	stData
	stTrailer
	stDone
)

// chunkReader decodes an aws-chunked body: "hex-size[;chunk-signature=sig]\r\n data \r\n"
// repeated, a zero-size chunk, then either "\r\n" or a trailer section. In the signed modes
// every chunk signature is chained from the request signature and checked as soon as the
// chunk's data has been read, and the trailer carries x-amz-trailer-signature.
type chunkReader struct {
	br          *bufio.Reader
	signed      bool
	trailer     bool   // the payload mode has a trailer section
	trailerName string // expected checksum trailer, lower case; "" for none

	// Signing state (signed modes only).
	mac     *macSHA256
	key     [sha256.Size]byte
	prev    [sha256.Size]byte // signature of the previous chunk (the seed at first)
	scope   []byte            // "YYYYMMDDTHHMMSSZ\nYYYYMMDD/region/s3/aws4_request\n"
	chunk   hash.Hash         // SHA-256 of the current chunk's data
	want    [sha256.Size]byte // signature the current chunk header announced
	sum     [sha256.Size]byte // digest scratch; a local array handed to Sum would escape
	scratch []byte

	state      chunkState
	remaining  int64 // data bytes left in the current chunk
	decodedLen int64 // x-amz-decoded-content-length, or -1
	total      int64 // data bytes decoded so far
	index      int   // 1-based number of the chunk being read
	prevSize   int64 // size of the previous chunk, for the 8 KiB rule

	trailerValue []byte // value of trailerName once parsed
}

func incomplete() *Error { return newError(FailIncompleteBody) }

// Read implements io.Reader over the decoded data. It returns io.EOF only after the final
// chunk and the trailer section have been read and every signature verified.
func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		switch c.state {
		case stHeader:
			if err := c.readHeader(); err != nil {
				return 0, err
			}
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			want := int64(len(p))
			if want > c.remaining {
				want = c.remaining
			}
			n, err := c.br.Read(p[:want])
			if n > 0 {
				if c.signed {
					c.chunk.Write(p[:n])
				}
				c.remaining -= int64(n)
				c.total += int64(n)
			}
			if c.remaining == 0 {
				if err := c.endChunk(); err != nil {
					return n, err
				}
			} else if err != nil {
				if err == io.EOF {
					return n, incomplete()
				}
				return n, err
			}
			return n, nil
		case stTrailer:
			if err := c.readTrailer(); err != nil {
				return 0, err
			}
			c.state = stDone
		case stDone:
			return 0, io.EOF
		}
	}
}

// readLine returns the next line without its "\r\n" (or bare "\n").
func (c *chunkReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		if err == bufio.ErrBufferFull || err == io.EOF {
			return nil, incomplete()
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readHeader parses one chunk header and moves to its data, or to the trailer after the
// final zero-size chunk.
func (c *chunkReader) readHeader() error {
	line, err := c.readLine()
	if err == io.EOF {
		return incomplete()
	}
	if err != nil {
		return err
	}
	sizeText, ext, hasExt := bytes.Cut(line, []byte{';'})
	size, ok := parseHexSize(sizeText)
	if !ok {
		return incomplete()
	}
	if c.signed {
		const prefix = "chunk-signature="
		if !hasExt || len(ext) != len(prefix)+2*sha256.Size || string(ext[:len(prefix)]) != prefix {
			return newError(FailChunkSignatureMismatch)
		}
		if _, err := hex.Decode(c.want[:], ext[len(prefix):]); err != nil {
			return newError(FailChunkSignatureMismatch)
		}
		c.index++
		if size > 0 && c.prevSize > 0 && c.prevSize < minChunkSize {
			return newError(FailChunkTooSmall,
				[2]string{"Chunk", strconv.Itoa(c.index)},
				[2]string{"BadChunkSize", strconv.FormatInt(c.prevSize, 10)})
		}
		c.prevSize = size
		c.chunk.Reset()
	}
	if c.decodedLen >= 0 && c.total+size > c.decodedLen {
		return incomplete()
	}
	if size > 0 {
		c.remaining = size
		c.state = stData
		return nil
	}
	if c.signed {
		if err := c.checkChunkSignature(); err != nil {
			return err
		}
	}
	if c.decodedLen >= 0 && c.total != c.decodedLen {
		return incomplete()
	}
	c.state = stTrailer
	return nil
}

// parseHexSize parses a chunk size: 1 to 16 hex digits, at most maxChunkSize.
func parseHexSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		d, ok := unhex(ch)
		if !ok {
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	if n > maxChunkSize {
		return 0, false
	}
	return int64(n), true
}

// endChunk consumes the "\r\n" after a chunk's data and checks its signature.
func (c *chunkReader) endChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return incomplete()
	}
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return incomplete()
	}
	c.state = stHeader
	if c.signed {
		return c.checkChunkSignature()
	}
	return nil
}

// checkChunkSignature verifies the announced signature of the chunk just read:
// HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" time "\n" scope "\n" prev "\n" hash("") "\n" hash(data)).
func (c *chunkReader) checkChunkSignature() error {
	c.chunk.Sum(c.sum[:0])
	sts := append(c.scratch[:0], "AWS4-HMAC-SHA256-PAYLOAD\n"...)
	sts = append(sts, c.scope...)
	sts = hex.AppendEncode(sts, c.prev[:])
	sts = append(sts, '\n')
	sts = append(sts, emptySHA256Hex...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, c.sum[:])
	c.scratch = sts
	got := c.mac.compute(c.key[:], sts, nil)
	if subtle.ConstantTimeCompare(got[:], c.want[:]) != 1 {
		return newError(FailChunkSignatureMismatch)
	}
	c.prev = got
	return nil
}

// readTrailer reads what follows the final chunk. Without a trailer that is one empty line
// (or the end of the body). With one, it is "name:value" lines, in the signed mode an
// x-amz-trailer-signature line, and an empty line. Clients differ in line endings (minio-go
// writes "name:value\n\r\n" before the signature), so blank lines before the signature are
// skipped and the signed form ends at the line after the signature.
func (c *chunkReader) readTrailer() error {
	if !c.trailer {
		line, err := c.readLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return incomplete()
		}
		return nil
	}
	var sig [sha256.Size]byte
	gotSig, gotAny := false, false
	if c.signed {
		c.chunk.Reset()
	}
	for range maxTrailerLines {
		line, err := c.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return newError(FailMalformedTrailer)
		}
		if len(line) == 0 {
			if c.signed && !gotSig {
				continue
			}
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return newError(FailMalformedTrailer)
		}
		if equalFoldString(name, "x-amz-trailer-signature") {
			if !c.signed || gotSig || len(value) != 2*sha256.Size {
				return newError(FailMalformedTrailer)
			}
			if _, err := hex.Decode(sig[:], value); err != nil {
				return newError(FailMalformedTrailer)
			}
			gotSig = true
			continue
		}
		if gotSig {
			return newError(FailMalformedTrailer)
		}
		gotAny = true
		if c.signed {
			c.chunk.Write(line)
			c.chunk.Write([]byte{'\n'})
		}
		if c.trailerName != "" && equalFoldString(name, c.trailerName) {
			c.trailerValue = append(c.trailerValue[:0], bytes.Trim(value, " \t")...)
		}
	}
	if c.trailerName != "" && c.trailerValue == nil {
		return newError(FailMalformedTrailer)
	}
	if !c.signed {
		return nil
	}
	if !gotSig {
		if !gotAny && c.trailerName == "" {
			return nil
		}
		return newError(FailMalformedTrailer)
	}
	c.chunk.Sum(c.sum[:0])
	sts := append(c.scratch[:0], "AWS4-HMAC-SHA256-TRAILER\n"...)
	sts = append(sts, c.scope...)
	sts = hex.AppendEncode(sts, c.prev[:])
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, c.sum[:])
	c.scratch = sts
	got := c.mac.compute(c.key[:], sts, nil)
	if subtle.ConstantTimeCompare(got[:], sig[:]) != 1 {
		return newError(FailChunkSignatureMismatch)
	}
	return nil
}
