package audit

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// FuzzAppendJSON checks AppendJSON against encoding/json byte for byte, and that a slot
// round trip (the copy Emit makes) changes nothing.
func FuzzAppendJSON(f *testing.F) {
	f.Add("REQ1", "AKIA", "PutObject", "bucket", "key", "", 200, int64(1), int64(2), int64(3), int64(1700000000), uint32(0), []byte{127, 0, 0, 1}, uint16(80))
	f.Add("\x00\"\\", "<&>", "\u2028", "\xff", "a\xc3", "\t\n", -1, int64(-1), int64(0), int64(-9), int64(0), uint32(999999999), []byte{}, uint16(0))
	f.Add("日本", "😀", "", "", "", "x", 599, int64(1<<62), int64(0), int64(0), int64(253402300799), uint32(1), []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(443))
	f.Fuzz(func(t *testing.T, id, ak, op, bucket, key, code string, status int, in, out, dur, sec int64, nsec uint32, ip []byte, port uint16) {
		if sec < -62135596800 || sec > 253402300799 { // encoding/json only marshals years 0-9999
			return
		}
		r := Record{
			Time: time.Unix(sec, int64(nsec%1e9)), RequestID: id, AccessKey: ak, Operation: op,
			Bucket: bucket, Key: key, ErrorCode: code, Status: status, BytesIn: in, BytesOut: out,
			Duration: time.Duration(dur), Auth: time.Duration(in), LockWait: time.Duration(out),
			Storage: time.Duration(sec), Response: time.Duration(nsec),
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			r.RemoteAddr = netip.AddrPortFrom(addr, port)
		}
		got := AppendJSON(nil, &r)
		if want := marshalOracle(t, r); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON:\n got %q\nwant %q", got, want)
		}
		var s slot
		s.fill(&r)
		if again := AppendJSON(nil, &s.rec); !bytes.Equal(again, got) {
			t.Fatalf("after slot copy:\n got %q\nwant %q", again, got)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
	})
}
