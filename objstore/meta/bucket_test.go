package meta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleBucketConfig() *BucketConfig {
	return &BucketConfig{
		Updated: time.Date(2026, 12, 4, 19, 30, 0, 123, time.UTC),
		Docs: map[string]string{
			"versioning": `<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`,
			"tagging":    "<Tagging/>",
		},
	}
}

func TestBucketConfigRoundTrip(t *testing.T) {
	for _, c := range []*BucketConfig{sampleBucketConfig(), {}, {Updated: time.Unix(1, 0).UTC()}} {
		got, err := UnmarshalBucketConfig(c.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip: got %+v, want %+v", got, c)
		}
	}
}

// TestBucketConfigVersion1 decodes a record as format version 1 wrote it: a later binary
// must keep reading it.
func TestBucketConfigVersion1(t *testing.T) {
	// magic, version, header length, updated (varint ns), 1 document "a" = "b", CRC-32C.
	const v1 = "46535442" + "01" + "0e" + "f6c1c19ec98dcdcd2c" + "01" + "0161" + "0162" + "33df662d"
	b, err := hex.DecodeString(v1)
	if err != nil {
		t.Fatal(err)
	}
	want := &BucketConfig{Updated: time.Unix(0, 1607110200000000000+123).UTC(), Docs: map[string]string{"a": "b"}}
	got, err := UnmarshalBucketConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestBucketConfigRejectsDamage(t *testing.T) {
	b := sampleBucketConfig().Marshal()
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := UnmarshalBucketConfig(c); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := UnmarshalBucketConfig(b[:n]); err == nil {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
	newer := bytes.Clone(b)
	newer[4] = formatVersion + 1
	if _, err := UnmarshalBucketConfig(newer); !errors.Is(err, ErrVersion) {
		t.Fatalf("newer version: %v, want ErrVersion", err)
	}
	if _, err := UnmarshalBucketConfig(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("a trailing byte went unnoticed")
	}
}

// FuzzUnmarshalBucketConfig: arbitrary bytes never panic the decoder, and whatever decodes
// re-encodes to a record that decodes to the same value.
func FuzzUnmarshalBucketConfig(f *testing.F) {
	f.Add(sampleBucketConfig().Marshal())
	f.Add((&BucketConfig{}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalBucketConfig(b)
		if err != nil {
			return
		}
		again, err := UnmarshalBucketConfig(c.Marshal())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encoding: %+v, %v; first %+v", again, err, c)
		}
	})
}
