package testport

import (
	"fmt"
	"net"
	"testing"
)

// TestPick checks that a picked port and its offsets are below the ephemeral range and
// can be bound on every host.
func TestPick(t *testing.T) {
	hosts, offsets := []string{"127.0.0.1", "127.0.0.2"}, []int{0, 1, 2}
	p := Pick(t, hosts, offsets)
	if p < low || p+2 >= ephemeralLow() {
		t.Fatalf("port %d: want %d <= p and p+2 < %d", p, low, ephemeralLow())
	}
	for _, h := range hosts {
		for _, off := range offsets {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", h, p+off))
			if err != nil {
				t.Fatalf("binding %s:%d: %v", h, p+off, err)
			}
			l.Close()
		}
	}
}
