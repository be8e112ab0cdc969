package deploy_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// TestPutETagsInLanes puts objects and multipart parts at once, of sizes around the stripe
// and with an unknown size, on deployments whose ETags are hashed in the MD5 lanes from the
// first body on (MD5Lanes 1), from the third (a mix of lanes and crypto/md5), and never:
// every ETag must be the MD5 of the body (a part's, and the completed object's MD5 of the
// parts' MD5s), and every object read back whole.
func TestPutETagsInLanes(t *testing.T) {
	for _, lanes := range []int{1, 3, -1} {
		t.Run(fmt.Sprintf("lanes-%d", lanes), func(t *testing.T) {
			c := context.Background()
			d, err := deploy.Open(c, deploy.Config{
				Drives:   []string{filepath.Join(t.TempDir(), "d{1...4}")},
				Parity:   2,
				MD5Lanes: lanes,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, uint64(lanes+10)))
			sizes := []int{200 << 10, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 77, 6 << 20}
			bodies := make([][]byte, len(sizes))
			for i, n := range sizes {
				bodies[i] = make([]byte, n)
				for j := range bodies[i] {
					bodies[i][j] = byte(rng.Uint32())
				}
			}
			var wg sync.WaitGroup
			for i, body := range bodies {
				for _, unknown := range []bool{false, true} {
					wg.Go(func() {
						key := fmt.Sprintf("obj-%d-%v", i, unknown)
						size := int64(len(body))
						if unknown {
							size = -1
						}
						info, err := d.PutObject(c, "bkt", key, bytes.NewReader(body), size, objstore.PutOptions{})
						if err != nil {
							t.Errorf("put %s: %v", key, err)
							return
						}
						if want := md5.Sum(body); strings.Trim(info.ETag, `"`) != hex.EncodeToString(want[:]) {
							t.Errorf("put %s: ETag %s, want %x", key, info.ETag, want)
						}
					})
				}
			}
			id, err := d.NewMultipartUpload(c, "bkt", "multi", objstore.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Every part but the last at least 5 MiB.
			partBodies := [][]byte{bodies[5], bodies[5][:5<<20+3], bodies[4]}
			parts := make([]objstore.CompletePart, len(partBodies))
			for n, body := range partBodies {
				wg.Go(func() {
					p, err := d.PutObjectPart(c, "bkt", "multi", id, n+1, bytes.NewReader(body), int64(len(body)), objstore.PartOptions{})
					if err != nil {
						t.Errorf("part %d: %v", n+1, err)
						return
					}
					if want := md5.Sum(body); strings.Trim(p.ETag, `"`) != hex.EncodeToString(want[:]) {
						t.Errorf("part %d: ETag %s, want %x", n+1, p.ETag, want)
					}
					parts[n] = objstore.CompletePart{Number: n + 1, ETag: p.ETag}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			if _, err := d.CompleteMultipartUpload(c, "bkt", "multi", id, parts, objstore.CompleteOptions{}); err != nil {
				t.Fatal(err)
			}
			for i, body := range bodies {
				for _, unknown := range []bool{false, true} {
					key := fmt.Sprintf("obj-%d-%v", i, unknown)
					if got := readAll(t, c, d, "bkt", key); !bytes.Equal(got, body) {
						t.Errorf("%s read back %d bytes, differing from the %d put", key, len(got), len(body))
					}
				}
			}
			var whole []byte
			for _, body := range partBodies {
				whole = append(whole, body...)
			}
			if got := readAll(t, c, d, "bkt", "multi"); !bytes.Equal(got, whole) {
				t.Errorf("multipart object read back %d bytes, differing from the %d put", len(got), len(whole))
			}
		})
	}
}
