package audit

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// marshalOracle is what encoding/json gives for r, with the newline AppendJSON adds.
func marshalOracle(t testing.TB, r Record) []byte {
	r.Time = r.Time.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return append(b, '\n')
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		rec  Record
	}{
		{"zero", Record{}},
		{"typical", recordFor(42)},
		{"control bytes", Record{Key: "\x00\x01\x07\b\f\n\r\t\x1f\x7f"}},
		{"quotes and backslash", Record{Key: `a"b\c/d`}},
		{"html", Record{Key: "<script>&amp;</script>"}},
		{"line separators", Record{Key: "a\u2028b\u2029c"}},
		{"invalid utf8", Record{Key: "a\xffb\xc3(\xed\xa0\x80z"}},
		{"truncated rune at end", Record{Key: "abc\xe2\x82"}},
		{"multibyte", Record{Bucket: "日本語", Key: "emoji 😀 ok"}},
		{"ipv6", Record{RemoteAddr: netip.MustParseAddrPort("[2001:db8::1]:443")}},
		{"ipv6 zone", Record{RemoteAddr: netip.MustParseAddrPort("[fe80::1%eth0]:80")}},
		{"ipv4-mapped", Record{RemoteAddr: netip.MustParseAddrPort("[::ffff:1.2.3.4]:9")}},
		{"negative numbers", Record{Status: -1, BytesIn: -5, Duration: -time.Second}},
		{"time zone", Record{Time: time.Date(2024, 2, 29, 23, 59, 59, 123456789, paris)}},
		{"whole second", Record{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendJSON(nil, &tt.rec)
			if want := marshalOracle(t, tt.rec); !bytes.Equal(got, want) {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestAppendJSONAppends(t *testing.T) {
	r := recordFor(1)
	prefix := []byte("prefix:")
	got := AppendJSON(prefix, &r)
	if !bytes.HasPrefix(got, []byte("prefix:{")) {
		t.Fatalf("AppendJSON did not append to dst: %q", got)
	}
}

func TestAppendJSONDoesNotAllocate(t *testing.T) {
	r := recordFor(7)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { buf = AppendJSON(buf[:0], &r) }); n != 0 {
		t.Fatalf("AppendJSON allocates %v times per record", n)
	}
}
