package format

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sample returns a well-formed record of a 2-set deployment of 4-drive sets.
func sample() Format {
	f := Format{Version: Version, DeploymentID: newID(), PlacementKey: newID()}
	for range 2 {
		f.Sets = append(f.Sets, []string{newID(), newID(), newID(), newID()})
	}
	f.DriveID = f.Sets[1][2]
	return f
}

// v1Record encodes f as version 1 wrote it.
func v1Record(f Format) []byte {
	b, err := jsonIndent(recordV1{Version: 1, Format: f})
	if err != nil {
		panic(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	f := sample()
	b, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(f)): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, f) {
		t.Fatalf("round trip: got %+v, want %+v", got, f)
	}
	if !bytes.Contains(b, []byte(`"version": 2`)) || !bytes.Contains(b, []byte(`"sha256"`)) {
		t.Fatalf("record is not version 2 with a checksum:\n%s", b)
	}
}

func TestParseVersion1(t *testing.T) {
	f := sample()
	got, err := Parse(v1Record(f))
	if err != nil {
		t.Fatal(err)
	}
	want := f
	want.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Migrating: the version 1 record, written again, is version 2 with the same content.
	b, err := Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Parse(b); err != nil || again.Version != Version || again.agreement() != f.agreement() || again.DriveID != f.DriveID {
		t.Fatalf("migrated record: %+v, %v", again, err)
	}
}

// TestParseEveryTruncation: every proper prefix of a record is refused as corrupt.
func TestParseEveryTruncation(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	full := len(bytes.TrimRight(b, "\n"))
	for n := 0; n < full; n++ {
		if _, err := Parse(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d of %d bytes: %v, want ErrCorrupt", n, len(b), err)
		}
	}
}

// TestParseEveryFlip flips each byte of a record: the result is refused, or (a flip in
// white space between tokens) reads as the same record. A flip never yields another one.
func TestParseEveryFlip(t *testing.T) {
	f := sample()
	b, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			got, err := Parse(c)
			if err == nil && !reflect.DeepEqual(got, f) {
				t.Fatalf("byte %d ^ %#x: read as another record %+v", i, mask, got)
			}
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("byte %d ^ %#x: %v, want ErrCorrupt or ErrUnknownVersion", i, mask, err)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	f := sample()
	good, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	v1 := func(mod func(*Format)) []byte {
		g := f
		g.Sets = [][]string{append([]string(nil), f.Sets[0]...), append([]string(nil), f.Sets[1]...)}
		mod(&g)
		return v1Record(g)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"not JSON", []byte("format"), ErrCorrupt},
		{"no version", []byte(`{"deploymentID":"x"}`), ErrCorrupt},
		{"version 0", replace(`"version": 2`, `"version": 0`), ErrUnknownVersion},
		{"version 3", replace(`"version": 2`, `"version": 3`), ErrUnknownVersion},
		{"version string", replace(`"version": 2`, `"version": "2"`), ErrCorrupt},
		{"checksum of another body", replace(`"sha256": "`, `"sha256": "0`), ErrCorrupt},
		{"no body", []byte(`{"version":2,"sha256":"00"}`), ErrCorrupt},
		{"body changed", replace(f.PlacementKey, newID()), ErrCorrupt},
		{"v1 bad deployment id", v1(func(g *Format) { g.DeploymentID = "xyz" }), ErrCorrupt},
		{"v1 bad placement key", v1(func(g *Format) { g.PlacementKey = strings.Repeat("g", 32) }), ErrCorrupt},
		{"v1 drive in no set", v1(func(g *Format) { g.DriveID = newID() }), ErrCorrupt},
		{"v1 no sets", v1(func(g *Format) { g.Sets = nil }), ErrCorrupt},
		{"v1 unequal sets", v1(func(g *Format) { g.Sets[1] = g.Sets[1][:3] }), ErrCorrupt},
		{"v1 repeated id", v1(func(g *Format) { g.Sets[0][0] = g.Sets[1][0] }), ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.in); !errors.Is(err, c.want) {
				t.Fatalf("Parse: %v, want %v", err, c.want)
			}
		})
	}
}

func TestSalvageDriveID(t *testing.T) {
	f := sample()
	b, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the sets (after the drive id): the record is corrupt, its drive id still shows.
	i := bytes.Index(b, []byte(`"sets"`))
	c := bytes.Clone(b)
	copy(c[i+10:], bytes.Repeat([]byte{'#'}, 16))
	if _, err := Parse(c); err == nil {
		t.Fatal("damaged record parsed")
	}
	if got := salvageDriveID(c); got != f.DriveID {
		t.Fatalf("salvaged %q, want %q", got, f.DriveID)
	}
	if got := salvageDriveID([]byte(`{"driveID":"short"}`)); got != "" {
		t.Fatalf("salvaged %q from a record without an id", got)
	}
}

func ExampleMarshal() {
	b, _ := Marshal(Format{
		DeploymentID: strings.Repeat("d", 32), PlacementKey: strings.Repeat("0", 32),
		DriveID: strings.Repeat("1", 32), Sets: [][]string{{strings.Repeat("1", 32), strings.Repeat("2", 32)}},
	})
	fmt.Print(string(b))
	// Output:
	// {
	//   "version": 2,
	//   "sha256": "9bd9094eef841473605f720fd56e32c9bd2f7bb9094b53187c345634ad1b5787",
	//   "body": {
	//     "deploymentID": "dddddddddddddddddddddddddddddddd",
	//     "placementKey": "00000000000000000000000000000000",
	//     "driveID": "11111111111111111111111111111111",
	//     "sets": [
	//       [
	//         "11111111111111111111111111111111",
	//         "22222222222222222222222222222222"
	//       ]
	//     ]
	//   }
	// }
}
