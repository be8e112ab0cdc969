package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// netnsNet is a network of one namespace per node, each with a veth whose host end is on a
// bridge in the test's namespace (which holds the bridge's address, so the test's clients
// reach every node). A fault on a node's host end touches that node's traffic only, and
// nothing of the machine's other users (no rule on loopback).
type netnsNet struct {
	t      *testing.T
	ns     []string // the namespaces, by node
	veths  []string // the veths' host ends, by node
	hosts  []string // the nodes' addresses
	bridge string
}

// netnsSeq tells apart the networks of one test process.
var netnsSeq atomic.Uint32

// newNetnsNet builds the network for n nodes, or skips the test, saying why, where it
// cannot be built: not root, or no ip command (scripts/test.sh installs iproute2, and
// with FLASHSTOR_REQUIRE_TOOLS a missing ip fails the test).
func newNetnsNet(t *testing.T, n int) *netnsNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: run as root to cut a node off and slow it down")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("FLASHSTOR_REQUIRE_TOOLS") != "" {
			t.Fatalf("ip (iproute2) is missing: %v", err)
		}
		t.Skip("ip (iproute2) is not installed")
	}
	// Names of at most 15 bytes; a /24 of 10.0.0.0/8 few other users pick.
	tag := fmt.Sprintf("%x%x", os.Getpid()&0xffff, netnsSeq.Add(1)&0xf)
	pid := os.Getpid()
	subnet := fmt.Sprintf("10.%d.%d", 100+pid%100, (pid/100+int(netnsSeq.Load()))%250)
	nn := &netnsNet{t: t, bridge: "fsb" + tag}
	t.Cleanup(nn.remove)
	nn.ip("link", "add", nn.bridge, "type", "bridge")
	nn.ip("addr", "add", subnet+".254/24", "dev", nn.bridge)
	nn.ip("link", "set", nn.bridge, "up")
	for i := range n {
		ns, veth := fmt.Sprintf("fsn%s-%d", tag, i+1), fmt.Sprintf("fsv%s-%d", tag, i+1)
		host := fmt.Sprintf("%s.%d", subnet, i+1)
		nn.ip("netns", "add", ns)
		nn.ns = append(nn.ns, ns)
		nn.ip("-n", ns, "link", "set", "lo", "up")
		nn.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
		nn.veths = append(nn.veths, veth)
		nn.ip("link", "set", veth, "master", nn.bridge, "up")
		nn.ip("-n", ns, "addr", "add", host+"/24", "dev", "eth0")
		nn.ip("-n", ns, "link", "set", "eth0", "up")
		nn.hosts = append(nn.hosts, host)
	}
	return nn
}

// ip runs the ip command, failing the test if it fails.
func (nn *netnsNet) ip(args ...string) {
	nn.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		nn.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// remove deletes the namespaces (their veths go with them) and the bridge.
func (nn *netnsNet) remove() {
	for _, ns := range nn.ns {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			nn.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
	exec.Command("ip", "link", "del", nn.bridge).Run() // absent if its creation failed
}

// cut takes node i off the network: nothing reaches it and it reaches nothing.
func (nn *netnsNet) cut(i int) { nn.ip("link", "set", nn.veths[i], "down") }

// restore puts node i back on the network.
func (nn *netnsNet) restore(i int) { nn.ip("link", "set", nn.veths[i], "up") }
