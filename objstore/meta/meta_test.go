package meta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

func sampleObject() *Object {
	return &Object{
		VersionID: [16]byte{1, 2, 3},
		DataDir:   [16]byte{9, 8, 7},
		ModTime:   time.Date(2026, 11, 25, 12, 0, 0, 123, time.UTC),
		Size:      15 << 20,
		ETag:      "0123456789abcdef0123456789abcdef-3",
		Erasure: Erasure{DataShards: 2, ParityShards: 2, BlockSize: 1 << 20, Index: 3,
			Distribution: []uint8{2, 3, 0, 1}, Bitrot: 1},
		Parts: []Part{
			{Number: 1, Size: 5 << 20, ETag: "a", Checksum: "CRC32C:AAAAAA=="},
			{Number: 3, Size: 5 << 20, ETag: "b"},
			{Number: 7, Size: 5 << 20, ETag: "c"},
		},
		Metadata: map[string]string{"content-type": "text/plain", "x-amz-meta-mode": "0644", "x-amz-meta-empty": ""},
	}
}

// sampleInline is sampleObject with its data inline.
func sampleInline() *Object {
	inline := sampleObject()
	inline.DataDir = [16]byte{}
	inline.Inline = true
	inline.Parts = []Part{{Number: 1, Size: 5, ETag: "e"}}
	inline.Size = 5
	inline.InlineData = []byte("framed shard bytes")
	return inline
}

func TestObjectRoundTrip(t *testing.T) {
	inline := sampleInline()
	empty := &Object{Erasure: Erasure{DataShards: 1, BlockSize: 1, Distribution: []uint8{0}}}

	for _, o := range []*Object{sampleObject(), inline, empty} {
		b := o.Marshal()
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, o)
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatal("re-encoding differs: encoding is not deterministic")
		}
		n := HeaderLength(b)
		if n != len(b)-len(o.InlineData) {
			t.Fatalf("HeaderLength = %d, want %d", n, len(b)-len(o.InlineData))
		}
		h, err := UnmarshalHeader(b[:n])
		if err != nil || h.ETag != o.ETag || h.InlineData != nil {
			t.Fatalf("UnmarshalHeader = %+v, %v", h, err)
		}
	}
}

func TestObjectRejectsDamage(t *testing.T) {
	b := sampleObject().Marshal()
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := Unmarshal(c); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := Unmarshal(b[:n]); err == nil {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
	newer := bytes.Clone(b)
	newer[4] = objectFormatV2 + 1
	if _, err := Unmarshal(newer); !errors.Is(err, ErrVersion) {
		t.Fatalf("newer version: %v, want ErrVersion", err)
	}
}

func TestObjectValidate(t *testing.T) {
	tests := map[string]func(o *Object){
		"negative size":     func(o *Object) { o.Size = -1 },
		"no data shards":    func(o *Object) { o.Erasure.DataShards = 0 },
		"index out of set":  func(o *Object) { o.Erasure.Index = 4 },
		"short distrib":     func(o *Object) { o.Erasure.Distribution = []uint8{0, 1} },
		"not a permutation": func(o *Object) { o.Erasure.Distribution = []uint8{0, 0, 1, 2} },
		"parts out of order": func(o *Object) {
			o.Parts[1].Number = 1
		},
		"parts do not sum": func(o *Object) { o.Size++ },
		"zero block size":  func(o *Object) { o.Erasure.BlockSize = 0 },
	}
	for name, mutate := range tests {
		o := sampleObject()
		mutate(o)
		if _, err := Unmarshal(o.Marshal()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Unmarshal = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestUnmarshalShared decodes the drives' copies of one version against the first: the
// values equal Unmarshal's, equal fields share like's memory (no allocation at all), and
// fields that differ are the record's own.
func TestUnmarshalShared(t *testing.T) {
	first, err := Unmarshal(sampleObject().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	sibling := sampleObject()
	sibling.Erasure.Index = 1
	sb := sibling.Marshal()
	var got Object
	if err := got.UnmarshalShared(sb, first); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, sibling) {
		t.Fatalf("shared decode:\n got %+v\nwant %+v", &got, sibling)
	}
	if unsafe.StringData(got.ETag) != unsafe.StringData(first.ETag) || &got.Parts[0] != &first.Parts[0] ||
		&got.Erasure.Distribution[0] != &first.Erasure.Distribution[0] || reflect.ValueOf(got.Metadata).Pointer() != reflect.ValueOf(first.Metadata).Pointer() {
		t.Fatal("equal fields are not shared")
	}
	if n := testing.AllocsPerRun(100, func() { _ = got.UnmarshalShared(sb, first) }); n != 0 {
		t.Fatalf("decoding a copy of like allocates %v times, want 0", n)
	}

	other := sampleObject()
	other.ETag = "other"
	other.Parts[2].Checksum = "CRC32C:BBBBBB=="
	other.Metadata["content-type"] = "text/html"
	other.Erasure.Distribution = []uint8{3, 2, 1, 0}
	if err := got.UnmarshalShared(other.Marshal(), first); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, other) || first.Metadata["content-type"] != "text/plain" || first.ETag == "other" {
		t.Fatalf("differing fields: got %+v, like now %+v", &got, first)
	}
}

func TestUploadAndPartRoundTrip(t *testing.T) {
	u := &Upload{Key: "a/b", UploadID: "abc", Initiated: time.Unix(100, 5).UTC(),
		Erasure:  Erasure{DataShards: 3, ParityShards: 1, BlockSize: 1 << 20, Index: 2, Distribution: []uint8{3, 2, 1, 0}},
		Metadata: map[string]string{"content-type": "x"}}
	gu, err := UnmarshalUpload(u.Marshal())
	if err != nil || !reflect.DeepEqual(gu, u) {
		t.Fatalf("upload round trip: %+v, %v", gu, err)
	}
	p := &PartRecord{Part: Part{Number: 42, Size: 5 << 20, ETag: "e", Checksum: "SHA256:x"}, ModTime: time.Unix(7, 0).UTC()}
	gp, err := UnmarshalPart(p.Marshal())
	if err != nil || !reflect.DeepEqual(gp, p) {
		t.Fatalf("part round trip: %+v, %v", gp, err)
	}
	if _, err := UnmarshalPart(u.Marshal()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an upload record decoded as a part: %v", err)
	}
}

// FuzzUnmarshal feeds arbitrary bytes to every decoder: they must not panic, and whatever
// decodes must re-encode to a record that decodes to the same value.
func FuzzUnmarshal(f *testing.F) {
	f.Add(sampleObject().Marshal())
	f.Add(versioned().Marshal())
	f.Add((&Upload{Key: "k", Erasure: Erasure{DataShards: 1, BlockSize: 1, Distribution: []uint8{0}}}).Marshal())
	f.Add((&PartRecord{Part: Part{Number: 1}}).Marshal())
	like := sampleObject()
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Unmarshal(b)
		if err == nil {
			again, err := Unmarshal(o.Marshal())
			if err != nil || !reflect.DeepEqual(again, o) {
				t.Fatalf("object re-encoding: %+v, %v", again, err)
			}
		}
		var shared Object
		if serr := shared.UnmarshalShared(b, like); (serr == nil) != (err == nil) || err == nil && !reflect.DeepEqual(&shared, o) {
			t.Fatalf("decoding against a like object: %+v, %v; alone: %+v, %v", &shared, serr, o, err)
		}
		_, _ = UnmarshalHeader(b)
		_ = HeaderLength(b)
		if u, err := UnmarshalUpload(b); err == nil {
			if again, err := UnmarshalUpload(u.Marshal()); err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("upload re-encoding: %+v, %v", again, err)
			}
		}
		if p, err := UnmarshalPart(b); err == nil {
			if again, err := UnmarshalPart(p.Marshal()); err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("part re-encoding: %+v, %v", again, err)
			}
		}
	})
}
