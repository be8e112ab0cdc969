package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestHardLinksKill9 changes a file with several names on the mount (a write through one
// name, a new link, an unlink) and kills the server with SIGKILL at a random point of each
// change. After every restart every name left must hold the same content, old or new, byte
// for byte, through S3; every name's list of names must be the names that exist; and the
// mount must show them as one inode whose link count is their number.
func TestHardLinksKill9(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the server child mounts (FUSE) and needs root")
	}
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	const bucket = "links"
	srv, root, seed := killableMount(t, bucket)
	r := rand.New(rand.NewPCG(seed, 13))
	for _, d := range []string{"a", "b", "c"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const size = 1 << 20
	content := func(i int) []byte {
		rr := rand.New(rand.NewPCG(seed, uint64(i)))
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rr.Uint32())
		}
		return b
	}
	gen := 0
	if err := os.WriteFile(filepath.Join(root, "a", "n0"), content(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"a/n0"}
	for i := 1; i <= 3; i++ {
		k := fmt.Sprintf("%s/n%d", []string{"a", "b", "c"}[i%3], i)
		if err := os.Link(filepath.Join(root, names[0]), filepath.Join(root, k)); err != nil {
			t.Fatal(err)
		}
		names = append(names, k)
	}
	next := 4
	const maxDelay = 150 * time.Millisecond
	kinds := map[string]int{}
	interrupted := 0
	for round := range rounds {
		// The possible states after the change: the names and contents before, and after.
		before, cands := slices.Clone(names), []int{gen}
		var op func() error
		kind := r.IntN(3)
		if kind == 2 && len(names) < 2 {
			kind = 1 // the last name is not unlinked: there would be no group left to check
		}
		switch {
		case kind == 0:
			gen++
			cands = append(cands, gen)
			target, c := names[r.IntN(len(names))], content(gen)
			op = func() error {
				f, err := os.OpenFile(filepath.Join(root, target), os.O_WRONLY, 0)
				if err != nil {
					return err
				}
				if _, err := f.WriteAt(c, 0); err != nil {
					f.Close()
					return err
				}
				return f.Close()
			}
			kinds["write"]++
		case kind == 1:
			k := fmt.Sprintf("%s/n%d", []string{"a", "b", "c"}[next%3], next)
			next++
			from := names[r.IntN(len(names))]
			names = append(names, k)
			op = func() error { return os.Link(filepath.Join(root, from), filepath.Join(root, k)) }
			kinds["link"]++
		default:
			i := r.IntN(len(names))
			k := names[i]
			names = slices.Delete(names, i, i+1)
			op = func() error { return os.Remove(filepath.Join(root, k)) }
			kinds["unlink"]++
		}
		opErr := killDuring(t, srv, time.Duration(r.Int64N(int64(maxDelay))), op)
		if opErr != nil {
			interrupted++
		}
		all := append(slices.Clone(before), names...)
		slices.Sort(all)
		all = slices.Compact(all)
		names, gen = checkLinkGroup(t, srv, root, bucket, all, cands, content)
		t.Logf("round %d: change returned %v; %d names, content %d", round, opErr, len(names), gen)
	}
	t.Logf("changes: %v; %d interrupted by the kill", kinds, interrupted)
}

// checkLinkGroup checks the group after a restart and returns its names and content.
func checkLinkGroup(t *testing.T, srv *chaosServer, root, bucket string, candNames []string, cands []int, content func(int) []byte) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	var names []string
	groups := map[string]string{} // each name's link group id, for the message of a failure
	gen := -1
	for _, k := range candNames {
		out, err := srv.s3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			continue // a name the interrupted change removed, or never made
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		match := -1
		for _, c := range cands {
			if bytes.Equal(got, content(c)) {
				match = c
			}
		}
		if match < 0 || gen >= 0 && match != gen {
			t.Fatalf("%s holds %d bytes, neither of contents %v, or not what the other names hold (%d)", k, len(got), cands, gen)
		}
		gen = match
		names = append(names, k)
		groups[k] = out.Metadata["flashstor-link-group"]
		var list []string
		s, _ := url.QueryUnescape(out.Metadata["flashstor-links"])
		_ = json.Unmarshal([]byte(s), &list)
		defer func(k string, list []string) {
			if len(names) > 1 {
				slices.Sort(list)
				if !slices.Equal(list, names) {
					t.Errorf("%s lists the names %v; the names are %v", k, list, names)
				}
			}
		}(k, list)
	}
	if len(names) == 0 {
		t.Fatalf("no name of %v is left", candNames)
	}
	var first syscall.Stat_t
	for i, k := range names {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, k), &st); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = st
		}
		if st.Ino != first.Ino || int(st.Nlink) != len(names) {
			t.Fatalf("%s: inode %d, nlink %d; want inode %d, nlink %d (the names' link groups in S3: %v)", k, st.Ino, st.Nlink, first.Ino, len(names), groups)
		}
	}
	return names, gen
}
