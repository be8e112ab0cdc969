package meta

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestGoldenV1 reads the bytes older binaries wrote (format 1): each decodes to the single
// null version it held, and re-encodes to the same bytes (an unversioned key stays format 1).
func TestGoldenV1(t *testing.T) {
	for file, want := range map[string]*Object{
		"testdata/object-v1-parts.fsto":  sampleObject(),
		"testdata/object-v1-inline.fsto": sampleInline(),
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if b[4] != objectFormatV1 {
			t.Fatalf("%s: version byte %d, want 1", file, b[4])
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", file, got, want)
		}
		if got.ID != [16]byte{} || got.DeleteMarker || got.Noncurrent != nil {
			t.Fatalf("%s: not a single null version: %+v", file, got)
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("%s: re-encoding differs from the format 1 bytes", file)
		}
		h, err := UnmarshalHeader(b[:HeaderLength(b)])
		if err != nil || h.ETag != want.ETag {
			t.Fatalf("%s: header: %+v, %v", file, h, err)
		}
	}
}

// versioned returns a record of three versions: a delete marker on top, a retained
// multipart version and an inline null version with a legal hold.
func versioned() *Object {
	top := sampleObject()
	top.ID = [16]byte{0xaa}
	top.DeleteMarker = true
	top.DataDir = [16]byte{}
	top.Size = 0
	top.Parts = nil
	top.ETag = ""
	top.Metadata = nil
	top.Erasure.Index = 2 // drive position 0 (distribution 2,3,0,1)
	mid := *sampleObject()
	mid.VersionID = [16]byte{}
	mid.ID = [16]byte{0xbb}
	mid.Erasure.Index = 2
	mid.Retention = Retention{Mode: RetentionCompliance, Until: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	null := *sampleObject()
	null.VersionID = [16]byte{}
	null.DataDir = [16]byte{}
	null.Inline = true
	null.Size = 3
	null.Parts = []Part{{Number: 1, Size: 3, ETag: "n"}}
	null.InlineData = []byte("abcdef")
	null.LegalHold = true
	null.Erasure.Index = 2
	top.Noncurrent = []Object{mid, null}
	return top
}

func TestVersionsRoundTrip(t *testing.T) {
	cases := map[string]*Object{"three versions": versioned()}
	one := sampleObject()
	one.ID = [16]byte{1}
	cases["one version with an id"] = one
	held := sampleObject()
	held.LegalHold = true
	cases["null version on legal hold"] = held
	inlineTop := versioned()
	inlineTop.DeleteMarker = false
	inlineTop.Inline = true
	inlineTop.Size = 2
	inlineTop.ETag = "x"
	inlineTop.Parts = []Part{{Number: 1, Size: 2, ETag: "x"}}
	inlineTop.InlineData = []byte("top!")
	cases["inline latest and inline noncurrent"] = inlineTop

	for name, o := range cases {
		b := o.Marshal()
		if b[4] != objectFormatV2 {
			t.Fatalf("%s: written as format %d, want 2", name, b[4])
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("%s: round trip:\n got %+v\nwant %+v", name, got, o)
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("%s: re-encoding differs", name)
		}
		var shared Object
		if err := shared.UnmarshalShared(b, sampleObject()); err != nil || !reflect.DeepEqual(&shared, o) {
			t.Fatalf("%s: shared decode: %+v, %v", name, &shared, err)
		}
		n := HeaderLength(b)
		h, err := UnmarshalHeader(b[:n])
		if err != nil || len(h.Noncurrent) != len(o.Noncurrent) || h.InlineData != nil {
			t.Fatalf("%s: UnmarshalHeader = %+v, %v", name, h, err)
		}
		for i := 0; i < n; i++ { // the inline data carries checksums of its own
			c := bytes.Clone(b)
			c[i] ^= 0x21
			if _, err := Unmarshal(c); err == nil {
				t.Fatalf("%s: flipping byte %d went unnoticed", name, i)
			}
		}
	}
}

// TestVersionsShardIndex: a noncurrent version's shard index is not stored; it is this
// drive's shard of the version, read from the distribution at the drive's position.
func TestVersionsShardIndex(t *testing.T) {
	o := versioned()
	o.Noncurrent[0].Erasure.Distribution = []uint8{1, 0, 3, 2}
	o.Noncurrent[0].Erasure.Index = 1
	got, err := Unmarshal(o.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Noncurrent[0].Erasure.Index != 1 || got.Noncurrent[1].Erasure.Index != 2 {
		t.Fatalf("indices %d, %d; want 1, 2", got.Noncurrent[0].Erasure.Index, got.Noncurrent[1].Erasure.Index)
	}
}

func TestVersionsValidate(t *testing.T) {
	tests := map[string]func(o *Object){
		"marker with data":     func(o *Object) { o.Size = 5; o.Parts = []Part{{Number: 1, Size: 5}} },
		"marker with data dir": func(o *Object) { o.DataDir = [16]byte{1} },
		"mode without date":    func(o *Object) { o.Retention = Retention{Mode: RetentionGovernance} },
		"date without mode":    func(o *Object) { o.Noncurrent[0].Retention.Mode = RetentionNone },
		"unknown mode":         func(o *Object) { o.Retention = Retention{Mode: 3, Until: time.Unix(5, 0)} },
		"noncurrent negative":  func(o *Object) { o.Noncurrent[1].Size = -1 },
	}
	for name, mutate := range tests {
		o := versioned()
		mutate(o)
		if _, err := Unmarshal(o.Marshal()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Unmarshal = %v, want ErrCorrupt", name, err)
		}
	}
	// Format 1 cannot hold a delete marker or a legal hold: their flags there are damage.
	held := sampleObject()
	held.LegalHold = true
	var h encoder
	h.id(held.VersionID)
	encodeVersion(&h, held, true)
	if _, err := Unmarshal(frameVersion(objectMagic, objectFormatV1, h.b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("format 1 with a legal hold flag: %v, want ErrCorrupt", err)
	}
}

func TestTooManyVersionsRefused(t *testing.T) {
	o := sampleObject()
	o.ID = [16]byte{1}
	nc := *sampleObject()
	nc.VersionID = [16]byte{}
	nc.Erasure.Index = int(nc.Erasure.Distribution[slicesIndex(o.Erasure.Distribution, uint8(o.Erasure.Index))])
	o.Noncurrent = make([]Object, MaxVersions-1)
	for i := range o.Noncurrent {
		o.Noncurrent[i] = nc
	}
	b := o.Marshal()
	if _, err := Unmarshal(b); err != nil {
		t.Fatalf("%d versions: %v", MaxVersions, err)
	}
	o.Noncurrent = append(o.Noncurrent, nc)
	if _, err := Unmarshal(o.Marshal()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d versions: %v, want ErrCorrupt", MaxVersions+1, err)
	}
}

func slicesIndex(s []uint8, v uint8) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
