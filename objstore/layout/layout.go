// Package layout maps S3 bucket names and object keys to paths on a drive, and back.
//
// Every key S3 accepts (valid UTF-8, 1 to 1024 bytes, any character but NUL) either maps to a
// path inside its bucket's directory or is refused with an error that says why; no key can
// name a path outside the drive. Each '/'-separated segment of a key becomes one path
// component, escaped so that the awkward ones are plain file names:
//
//	%      -> %25   (so that a '%' in an encoded name is always one of the escapes below)
//	""     -> %00   (the empty segment of "a//b", "/a" or the directory marker "dir/")
//	"."    -> %2E
//	".."   -> %2E%2E
//
// Every other byte is kept. Because a user's '%' always becomes "%25", an encoded user name
// starts with '%' only as "%25", "%2E" or "%00"; names that start with '%' followed by
// anything else belong to Flashstor (the object metadata suffix, the data area of a bucket),
// so user names and internal names can never collide.
//
// An object's metadata lives in a file named after the key's last segment with the suffix
// MetaSuffix, inside the directories of its other segments: key "a/b/c" is "a/b/c%m". A key
// and a prefix of the same name ("a" and "a/b") live side by side: the file "a%m" and the
// directory "a".
package layout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxKeyLength is S3's limit on the length of an object key, in bytes.
	MaxKeyLength = 1024
	// MaxNameLength is the longest file name the drives' file systems take (NAME_MAX).
	MaxNameLength = 255
	// MetaSuffix ends the name of every object metadata file.
	MetaSuffix = "%m"
	// MaxSegmentLength is the longest a key segment may be once encoded, so that it still fits
	// a file name with MetaSuffix.
	MaxSegmentLength = MaxNameLength - len(MetaSuffix)
	// DataDir is the directory, at the top of a bucket's directory, that holds object data.
	DataDir = "%data"
	// BucketMetaFile is the file, at the top of a bucket's directory, with the bucket's metadata.
	BucketMetaFile = "%bucket"
)

// Errors returned for keys and bucket names that cannot be stored. They are distinct so that
// the S3 face can send the precise error code and the FUSE face the precise errno.
var (
	ErrKeyEmpty       = errors.New("object key is empty")
	ErrKeyTooLong     = errors.New("object key is longer than 1024 bytes")
	ErrKeyInvalidUTF8 = errors.New("object key is not valid UTF-8")
	ErrKeyHasNUL      = errors.New("object key contains a NUL byte")
	// ErrSegmentTooLong is returned for a key with a '/'-separated segment that is too long to
	// be a file name once encoded.
	ErrSegmentTooLong  = fmt.Errorf("object key has a segment longer than %d bytes once encoded", MaxSegmentLength)
	ErrBucketNameRules = errors.New("bucket name does not follow S3 naming rules")
)

// CheckKey reports whether key can be stored, with an error that says why not.
func CheckKey(key string) error {
	switch {
	case key == "":
		return ErrKeyEmpty
	case len(key) > MaxKeyLength:
		return ErrKeyTooLong
	case strings.IndexByte(key, 0) >= 0:
		return ErrKeyHasNUL
	case !utf8.ValidString(key):
		return ErrKeyInvalidUTF8
	}
	for rest := key; ; {
		seg, tail, more := strings.Cut(rest, "/")
		if encodedLen(seg) > MaxSegmentLength {
			return ErrSegmentTooLong
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// ObjectPath returns the path, relative to the bucket's directory, of key's metadata file.
// The key must pass CheckKey.
func ObjectPath(key string) string {
	return string(AppendObjectPath(make([]byte, 0, len(key)+8), key))
}

// AppendObjectPath appends ObjectPath(key) to dst.
func AppendObjectPath(dst []byte, key string) []byte {
	for {
		seg, rest, more := strings.Cut(key, "/")
		dst = appendSegment(dst, seg)
		if !more {
			return append(dst, MetaSuffix...)
		}
		dst = append(dst, '/')
		key = rest
	}
}

// appendSegment appends EncodeSegment(seg) to dst.
func appendSegment(dst []byte, seg string) []byte {
	switch seg {
	case "":
		return append(dst, "%00"...)
	case ".":
		return append(dst, "%2E"...)
	case "..":
		return append(dst, "%2E%2E"...)
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] == '%' {
			dst = append(dst, "%25"...)
		} else {
			dst = append(dst, seg[i])
		}
	}
	return dst
}

// PrefixPath returns the path, relative to the bucket's directory, of the directory that
// holds the keys starting with dir + "/". dir is a key prefix without its trailing slash;
// "" is the bucket's top.
func PrefixPath(dir string) string {
	if dir == "" {
		return ""
	}
	return EncodePrefix(dir)
}

// EncodePrefix encodes every '/'-separated segment of dir.
func EncodePrefix(dir string) string {
	var b strings.Builder
	b.Grow(len(dir) + 8)
	for i, seg := range strings.Split(dir, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(EncodeSegment(seg))
	}
	return b.String()
}

// EncodeSegment returns the file name for one key segment (without MetaSuffix).
func EncodeSegment(seg string) string {
	switch seg {
	case "":
		return "%00"
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	if strings.IndexByte(seg, '%') < 0 {
		return seg
	}
	return strings.ReplaceAll(seg, "%", "%25")
}

// encodedLen is len(EncodeSegment(seg)) without building it.
func encodedLen(seg string) int {
	switch seg {
	case "", ".":
		return 3
	case "..":
		return 6
	}
	return len(seg) + 2*strings.Count(seg, "%")
}

// DecodeSegment returns the key segment a file name stands for. ok is false for a name that
// no key segment encodes to: an internal name, or a foreign file left on the drive.
func DecodeSegment(name string) (seg string, ok bool) {
	switch name {
	case "%00":
		return "", true
	case "%2E":
		return ".", true
	case "%2E%2E":
		return "..", true
	case "", ".", "..":
		return "", false
	}
	if strings.IndexByte(name, '%') < 0 {
		return name, true
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if !strings.HasPrefix(name[i:], "%25") {
			return "", false
		}
		b.WriteByte('%')
		i += 2
	}
	return b.String(), true
}

// ParseMetaName reports whether a file name is an object's metadata file and, if so, the
// last key segment it stands for.
func ParseMetaName(name string) (seg string, ok bool) {
	base, found := strings.CutSuffix(name, MetaSuffix)
	if !found {
		return "", false
	}
	return DecodeSegment(base)
}

// KeyFromPath is the inverse of ObjectPath: it returns the key whose metadata file is at
// path (relative to the bucket's directory), or ok false if no key maps there.
func KeyFromPath(path string) (key string, ok bool) {
	var b strings.Builder
	b.Grow(len(path))
	for {
		comp, rest, more := strings.Cut(path, "/")
		if !more {
			seg, ok := ParseMetaName(comp)
			if !ok {
				return "", false
			}
			b.WriteString(seg)
			return b.String(), true
		}
		seg, ok := DecodeSegment(comp)
		if !ok {
			return "", false
		}
		b.WriteString(seg)
		b.WriteByte('/')
		path = rest
	}
}

// DataDirPath returns the path, relative to the bucket's directory, of the data directory
// named id (the hex form of an object's DataDir).
func DataDirPath(id string) string { return DataDir + "/" + id }

// PartPath returns the path, relative to the bucket's directory, of part number n of the
// data directory named id.
func PartPath(id string, n int) string { return DataDir + "/" + id + "/" + PartName(n) }

// PartName is the file name of part number n in a data or upload directory.
func PartName(n int) string { return "part." + strconv.Itoa(n) }
