//go:build linux

package privsep

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// formatStatus writes the credential lines of st as the kernel does.
func formatStatus(st ThreadStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:\tx\nUid:\t%d\t%d\t%d\t%d\n", st.UIDs[0], st.UIDs[1], st.UIDs[2], st.UIDs[3])
	fmt.Fprintf(&b, "Gid:\t%d\t%d\t%d\t%d\nGroups:\t", st.GIDs[0], st.GIDs[1], st.GIDs[2], st.GIDs[3])
	for _, g := range st.Groups {
		fmt.Fprintf(&b, "%d ", g)
	}
	nnp := 0
	if st.NoNewPrivs {
		nnp = 1
	}
	fmt.Fprintf(&b, "\nCapPrm:\t%016x\nCapEff:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t%d\n", st.CapPrm, st.CapEff, st.CapAmb, nnp)
	return b.String()
}

func TestParseStatusOfThisProcess(t *testing.T) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	st, err := parseStatus("/proc/self/status", data)
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDs[0] != os.Getuid() || st.UIDs[1] != os.Geteuid() || st.GIDs[0] != os.Getgid() {
		t.Fatalf("parsed %+v, process is uid %d euid %d gid %d", st, os.Getuid(), os.Geteuid(), os.Getgid())
	}
}

// FuzzParseStatus checks that the /proc status parser never panics on any input, and
// that what it parses from a well-formed status is what was written.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(formatStatus(ThreadStatus{UIDs: [4]int{0, 0, 0, 0}, Groups: []int{0, 1}, CapPrm: 0x1ff, NoNewPrivs: true})), 65534, 1, uint64(0), true)
	f.Add([]byte("Uid:\t1\nGid:\nGroups:\tx\nCapPrm:\tzz\n"), 0, 0, uint64(1), false)
	f.Fuzz(func(t *testing.T, data []byte, id, group int, caps uint64, nnp bool) {
		parseStatus("fuzz", data) // must not panic
		if id < 0 || group < 0 {
			return
		}
		want := ThreadStatus{UIDs: [4]int{id, id, id, id}, GIDs: [4]int{group, group, group, group}, Groups: []int{group}, CapPrm: caps, CapEff: caps >> 1, CapAmb: caps >> 2, NoNewPrivs: nnp}
		got, err := parseStatus("fuzz", []byte(formatStatus(want)))
		if err != nil {
			t.Fatalf("parse of a well-formed status: %v", err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("parsed %+v, want %+v", got, want)
		}
	})
}
