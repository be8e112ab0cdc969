package fusefs

import (
	"bytes"
	"maps"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

func TestParseMode(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"33188", syscall.S_IFREG | 0o644, true}, // s3fs
		{"16877", syscall.S_IFDIR | 0o755, true},
		{"41471", syscall.S_IFLNK | 0o777, true},
		{"420", 0o644, true},  // permissions only
		{"0640", 0o640, true}, // octal by hand
		{"8630", syscall.S_IFCHR | 0o666, true},
		{"4480", syscall.S_IFIFO | 0o600, true},
		{"49645", syscall.S_IFSOCK | 0o755, true},
		{"25008", syscall.S_IFBLK | 0o660, true},
		{"12288", 0, false}, // 0o030000: no file type
		{"61440", 0, false}, // 0o170000: no file type
		{"-1", 0, false},    // garbage
		{"", 0, false},
		{"99999999999999", 0, false},
		{"0999", 0, false},
	}
	for _, c := range cases {
		got, ok := parseMode(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseMode(%q) = %o, %v; want %o, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseRdev(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"259", 1<<8 | 3, true},          // 1,3 (/dev/null)
		{"2049", 8<<8 | 1, true},         // 8,1
		{"1048575", 0xfffff, true},       // 4095,255
		{"4294967295", 0xffffffff, true}, // major 4095, minor 2^20-1: the largest FUSE carries
		{"4294967296", 0, false},         // major 4096 (glibc's dev_t): would be another device
		{"-1", 0, false},
		{"", 0, false},
		{"x", 0, false},
		{"184467440737095516150", 0, false},
	}
	for _, c := range cases {
		got, ok := parseRdev(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRdev(%q) = %#x, %v; want %#x, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1600000000", time.Unix(1600000000, 0), true},
		{"1600000000.5", time.Unix(1600000000, 500000000), true},
		{"1600000000.123456789", time.Unix(1600000000, 123456789), true},
		{"-5.5", time.Unix(-5, 500000000), true},
		{"2020-09-13T12:26:40Z", time.Unix(1600000000, 0), true},
		{"1600000000.", time.Time{}, false},
		{"1600000000.1234567891", time.Time{}, false},
		{"1e9", time.Time{}, false},
		{"99999999999999999", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := parseTime(c.in)
		if !got.Equal(c.want) || ok != c.ok {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzAttrs feeds arbitrary metadata (anyone can write it through S3) to the attribute
// parser: it must never panic, must keep the file type it is told, and what it derives
// must survive a store and reload.
func FuzzAttrs(f *testing.F) {
	f.Add("33188", "1000", "100", "1600000000.5", "", "", "")
	f.Add("0640", "-1", "x", "2020-09-13T12:26:40Z", "1.1", "junk", "")
	f.Add("41471", "4294967295", "4294967296", "-1", "1.", ".5", "")
	f.Add("8630", "0", "0", "", "", "", "259")
	f.Add("25008", "0", "0", "", "", "", "4294967296")
	f.Fuzz(func(t *testing.T, mode, uid, gid, mtime, atime, ctime, rdev string) {
		md := map[string]string{metaMode: mode, metaUID: uid, metaGID: gid, metaMtime: mtime, metaAtime: atime, metaCtime: ctime, metaRdev: rdev}
		info := objstore.ObjectInfo{Size: 10, ModTime: time.Unix(1700000000, 0), Metadata: md}
		for _, dir := range []bool{false, true} {
			a := attrsFromInfo(info, dir, owner{uid: 1, gid: 2})
			typ := a.mode & syscall.S_IFMT
			if dir && typ != syscall.S_IFDIR || !dir && typ != syscall.S_IFREG && typ != syscall.S_IFLNK && !isSpecial(a.mode) {
				t.Fatalf("dir %v: mode %o", dir, a.mode)
			}
			if a.rdev != 0 && !isDevice(a.mode) {
				t.Fatalf("mode %o with rdev %#x", a.mode, a.rdev)
			}
			stored := map[string]string{}
			putPosix(stored, a, true)
			b := attrsFromInfo(objstore.ObjectInfo{Size: 10, Metadata: stored}, dir, owner{})
			if a.mode != b.mode || a.rdev != b.rdev || a.uid != b.uid || a.gid != b.gid || !a.mtime.Equal(b.mtime) || !a.atime.Equal(b.atime) || !a.ctime.Equal(b.ctime) {
				t.Fatalf("round trip: %+v then %+v", a, b)
			}
		}
	})
}

// FuzzXattrs feeds arbitrary stored xattr entries to the decoder, and checks that what it
// accepts encodes back to the same attributes.
func FuzzXattrs(f *testing.F) {
	f.Add(encodeXattrs(map[string][]byte{"user.a": []byte("b"), "user.bin": {0, 255}}))
	f.Add("%7B%22user.x%22%3A%22%22%7D")
	f.Add("{\"user.x\":\"not base64\"}")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, stored string) {
		x, err := decodeXattrs(stored)
		if err != nil {
			return
		}
		back, err := decodeXattrs(encodeXattrs(x))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !maps.EqualFunc(x, back, bytes.Equal) {
			t.Fatalf("round trip: %v then %v", x, back)
		}
		buf := make([]byte, 1<<16)
		n, errno := listXattrs(stored, buf)
		if errno != 0 || bytes.Count(buf[:n], []byte{0}) != len(x) {
			t.Fatalf("listxattr: %q %v for %d attributes", buf[:n], errno, len(x))
		}
	})
}
