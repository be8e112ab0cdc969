// Package testport picks loopback ports for tests that bind them some time after picking
// them: a cluster's nodes, which bind their S3 port and, for etcd, the two next ones, in
// processes started later, or again after a restart.
//
// The ports come from below the kernel's ephemeral range. A port of that range that is
// free when picked can meanwhile become the source port of any outgoing connection on the
// machine (another test package's client, running beside), and the node's bind then fails
// with "address already in use"; the kernel never hands out a port below the range that
// way.
package testport

import (
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// low is the lowest port Pick returns.
const low = 20000

// Pick returns a port p such that p+off is free on every host for every off in offsets,
// when checked.
func Pick(t testing.TB, hosts []string, offsets []int) int {
	t.Helper()
	high := ephemeralLow() - slices.Max(offsets)
	for range 200 {
		p := low + rand.IntN(high-low)
		if free(hosts, p, offsets) {
			return p
		}
	}
	t.Fatalf("testport: no port below %d free on %v with offsets %v in 200 tries", high, hosts, offsets)
	return 0
}

func free(hosts []string, p int, offsets []int) bool {
	for _, h := range hosts {
		for _, off := range offsets {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p+off)))
			if err != nil {
				return false
			}
			l.Close()
		}
	}
	return true
}

// ephemeralLow returns the lowest port of the kernel's ephemeral range (32768 if unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= low+1000 {
		return 32768
	}
	return lo
}
