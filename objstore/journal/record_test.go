package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sampleRecord() *Record {
	return &Record{
		Op: OpRenamePrefix, Bucket: "photos", Src: "2024/trip/", Dst: "archive/trip/",
		DeleteDst: true, KeyLists: []string{"x-amz-meta-flashstor-links"},
		Created: time.Date(2026, 12, 4, 21, 30, 0, 123, time.UTC),
	}
}

func sampleSync() *Record {
	return &Record{
		Op: OpSyncNames, Bucket: "backup", Src: "snap.1/etc/passwd",
		Names:    []string{"snap.1/etc/passwd", "snap.0/etc/passwd"},
		Removed:  []string{"snap.2/etc/passwd"},
		KeyLists: []string{"x-amz-meta-flashstor-links"},
		Meta:     map[string]string{"x-amz-meta-flashstor-link-group": "0123456789abcdef"},
		Created:  time.Date(2026, 12, 4, 21, 40, 0, 0, time.UTC),
	}
}

func sampleRenameKey() *Record {
	return &Record{
		Op: OpRenameKey, Bucket: "home", Src: "docs/report.odt", Dst: "docs/.~lock.report.odt#",
		Created: time.Date(2026, 12, 4, 22, 40, 0, 0, time.UTC),
	}
}

// sampleRenameKeyVersion is a rename-key naming its source's version (2026-12-05): the
// same record version, one more field, which older binaries ignore.
func sampleRenameKeyVersion() *Record {
	r := sampleRenameKey()
	r.Src, r.Dst = "backup/.f.txt.Xq3v9a", "backup/f.txt"
	r.SrcVersion = "0194a1b2c3d4e5f60718293a4b5c6d7e"
	r.Created = time.Date(2026, 12, 5, 17, 40, 0, 0, time.UTC)
	return r
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []*Record{sampleRecord(), sampleSync(), sampleRenameKey(), sampleRenameKeyVersion()} {
		testRoundTrip(t, r)
	}
}

func testRoundTrip(t *testing.T, r *Record) {
	got, err := Unmarshal(r.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
	if err := got.Check(); err != nil {
		t.Fatal(err)
	}
}

// The bytes of every version ever written must keep decoding to the same record.
func TestRecordGolden(t *testing.T) {
	for name, r := range map[string]*Record{"rename-prefix.v1": sampleRecord(), "sync-names.v1": sampleSync(), "rename-key.v2": sampleRenameKey(), "rename-key-version.v2": sampleRenameKeyVersion()} {
		testGolden(t, filepath.Join("testdata", name), r)
	}
}

// The ops of version 1 are still written as version 1, byte for byte as before, so that a
// binary that reads only version 1 runs them; rename-key is written as version 2.
func TestRecordWrittenVersion(t *testing.T) {
	for name, r := range map[string]*Record{"rename-prefix.v1": sampleRecord(), "sync-names.v1": sampleSync(), "rename-key.v2": sampleRenameKey()} {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Marshal(); !bytes.Equal(got, want) {
			t.Errorf("%s: Marshal wrote version %d, %q; want %q", name, got[4], got, want)
		}
	}
	// A version 1 header on a rename-key body: no binary ever wrote it.
	b := sampleRenameKey().Marshal()
	b[4] = 1
	end := len(b) - 4
	b = binary.BigEndian.AppendUint32(b[:end], crc32.Checksum(b[:end], castagnoli))
	if _, err := Unmarshal(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("rename-key in a version 1 record: %v, want ErrCorrupt", err)
	}
}

func testGolden(t *testing.T, path string, want *Record) {
	if os.Getenv("FLASHSTOR_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, want.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("golden %s: got %+v, want %+v", path, got, want)
	}
}

func TestRecordErrors(t *testing.T) {
	good := sampleRecord().Marshal()
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	newer := bytes.Clone(good)
	newer[4] = Version + 1
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated", good[:len(good)-1], ErrCorrupt},
		{"longer", append(bytes.Clone(good), 0), ErrCorrupt},
		{"magic", flip(0), ErrCorrupt},
		{"flags", flip(5), ErrCorrupt},
		{"length", flip(9), ErrCorrupt},
		{"body bit", flip(20), ErrCorrupt},
		{"checksum bit", flip(len(good) - 1), ErrCorrupt},
		{"newer version", newer, ErrNewerVersion},
	} {
		if _, err := Unmarshal(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRecordCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Record)
		want error
	}{
		{"ok", func(*Record) {}, nil},
		{"unknown op", func(r *Record) { r.Op = "swap" }, ErrUnknownOp},
		{"no bucket", func(r *Record) { r.Bucket = "" }, ErrCorrupt},
		{"src without slash", func(r *Record) { r.Src = "a" }, ErrCorrupt},
		{"empty dst", func(r *Record) { r.Dst = "" }, ErrCorrupt},
		{"root dst", func(r *Record) { r.Dst = "/" }, ErrCorrupt},
		{"same", func(r *Record) { r.Dst = r.Src }, ErrCorrupt},
		{"into itself", func(r *Record) { r.Dst = r.Src + "x/" }, ErrCorrupt},
		{"sync ok", func(r *Record) { *r = *sampleSync() }, nil},
		{"rename-key ok", func(r *Record) { *r = *sampleRenameKey() }, nil},
		{"rename-key to itself", func(r *Record) { *r = *sampleRenameKey(); r.Dst = r.Src }, ErrCorrupt},
		{"rename-key no dst", func(r *Record) { *r = *sampleRenameKey(); r.Dst = "" }, ErrCorrupt},
		{"rename-key no bucket", func(r *Record) { *r = *sampleRenameKey(); r.Bucket = "" }, ErrCorrupt},
		{"sync src not a name", func(r *Record) { *r = *sampleSync(); r.Src = "x" }, ErrCorrupt},
		{"sync empty name", func(r *Record) { *r = *sampleSync(); r.Names = append(r.Names, "") }, ErrCorrupt},
	} {
		r := sampleRecord()
		c.edit(r)
		if err := r.Check(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// FuzzUnmarshal: any bytes decode to a record that re-encodes to a record equal to it, or
// fail with ErrCorrupt / ErrNewerVersion; never a panic.
func FuzzUnmarshal(f *testing.F) {
	f.Add(sampleRecord().Marshal())
	f.Add(sampleSync().Marshal())
	f.Add(sampleRenameKey().Marshal())
	f.Add([]byte("FSJR\x01\x00\x00\x00\x00\x02{}\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerVersion) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		_ = r.Check()
		again, err := Unmarshal(r.Marshal())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(again.Marshal(), r.Marshal()) {
			t.Fatalf("re-encoding is not stable")
		}
	})
}
