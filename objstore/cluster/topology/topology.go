// Package topology reads a cluster's argument list, the same on every node, such as
//
//	http://node{1...4}:9000/data{1...4}
//
// into its nodes and drives, tells a node which of them are its own, and lays the drives out
// into erasure sets that span nodes: drive positions interleave the nodes, so that losing
// one node costs each set at most its parity. It does no I/O but resolving host names.
package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/flashstor/flashstor/objstore/format"
)

// Endpoint is one drive of the list: a directory on a node.
type Endpoint struct {
	// Node is the node's "host:port", as written in the list (its S3 address).
	Node string
	// Path is the drive's directory on that node, absolute and clean.
	Path string
}

// URL returns the endpoint as the list writes it.
func (e Endpoint) URL(scheme string) string { return scheme + "://" + e.Node + e.Path }

// Topology is a parsed argument list.
type Topology struct {
	// Scheme is "http" or "https", the same for every endpoint.
	Scheme string
	// Endpoints are the drives in the order the list gives them.
	Endpoints []Endpoint
	// Nodes are the nodes in the order they first appear; Nodes[i] holds the drives
	// NodeDrives[i] (indexes into Endpoints, in list order).
	Nodes      []string
	NodeDrives [][]int
	// Hash identifies the expanded list: nodes whose hashes differ were given different
	// lists.
	Hash string
}

// Parse expands the "{a...b}" ranges of the arguments and parses every result as
// scheme://host:port/path. It refuses, with a message naming the argument: a bare
// directory among URLs, a scheme other than http and https or schemes that differ, a
// missing port, a relative or unclean path, a query, fragment or user, and a drive given
// twice.
func Parse(args []string) (*Topology, error) {
	exp, err := format.Expand(args)
	if err != nil {
		return nil, err
	}
	if len(exp) == 0 {
		return nil, errors.New("topology: no drives given")
	}
	t := &Topology{}
	nodeIndex := make(map[string]int)
	seen := make(map[Endpoint]bool)
	for _, a := range exp {
		scheme, e, err := parseEndpoint(a)
		if err != nil {
			return nil, err
		}
		if t.Scheme == "" {
			t.Scheme = scheme
		} else if scheme != t.Scheme {
			return nil, fmt.Errorf("topology: %q uses %s, earlier drives %s: every drive of a cluster uses one scheme", a, scheme, t.Scheme)
		}
		if seen[e] {
			return nil, fmt.Errorf("topology: drive %s given twice", e.URL(scheme))
		}
		seen[e] = true
		n, ok := nodeIndex[e.Node]
		if !ok {
			n = len(t.Nodes)
			nodeIndex[e.Node] = n
			t.Nodes = append(t.Nodes, e.Node)
			t.NodeDrives = append(t.NodeDrives, nil)
		}
		t.NodeDrives[n] = append(t.NodeDrives[n], len(t.Endpoints))
		t.Endpoints = append(t.Endpoints, e)
	}
	sum := sha256.New()
	for _, e := range t.Endpoints {
		fmt.Fprintf(sum, "%s\n", e.URL(t.Scheme))
	}
	t.Hash = hex.EncodeToString(sum.Sum(nil))
	return t, nil
}

// hasControl reports whether s holds a control character: none belongs in a host name or
// a drive's directory, and a URL cannot carry one unescaped.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// parseEndpoint parses one expanded argument.
func parseEndpoint(a string) (string, Endpoint, error) {
	if !strings.Contains(a, "://") {
		return "", Endpoint{}, fmt.Errorf("topology: %q is not a URL (http://host:port/path): a cluster's drives are all given as URLs", a)
	}
	u, err := url.Parse(a)
	if err != nil {
		return "", Endpoint{}, fmt.Errorf("topology: %q: %w", a, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", Endpoint{}, fmt.Errorf("topology: %q: scheme %q, want http or https", a, u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery || strings.Contains(a, "#"):
		return "", Endpoint{}, fmt.Errorf("topology: %q: a drive URL has no user, query or fragment", a)
	case u.Host == "":
		return "", Endpoint{}, fmt.Errorf("topology: %q: no host", a)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", Endpoint{}, fmt.Errorf("topology: %q: want host:port (the node's S3 port is part of every drive URL)", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535-2 || port != strconv.Itoa(p) {
		return "", Endpoint{}, fmt.Errorf("topology: %q: bad port %q (1 to 65533: the two ports above it serve etcd)", a, port)
	}
	if strings.ContainsAny(host, "/\\ ") || hasControl(host) {
		return "", Endpoint{}, fmt.Errorf("topology: %q: bad host %q", a, host)
	}
	p := u.Path
	if p == "" || p[0] != '/' || p == "/" || path.Clean(p) != p || hasControl(p) {
		return "", Endpoint{}, fmt.Errorf("topology: %q: the drive's path must be an absolute, clean directory other than /", a)
	}
	return u.Scheme, Endpoint{Node: strings.ToLower(net.JoinHostPort(host, port)), Path: p}, nil
}
