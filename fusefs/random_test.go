package fusefs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// randomOps is how many random operations one run applies.
const randomOps = 400

// TestRandomAgainstLocal applies the same random operations to the mount and to a local
// temporary directory, comparing every result and errno, then the whole trees, then the
// S3 view of the bucket. FLASHSTOR_SEED replays a run.
func TestRandomAgainstLocal(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLASHSTOR_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (FLASHSTOR_SEED replays it)", seed)
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		r := &randomRun{t: t, rng: rand.New(rand.NewPCG(seed, 1)), roots: [2]string{dir, t.TempDir()}}
		for i := 0; i < randomOps; i++ {
			r.step(i)
		}
		r.compareTrees()
		checkS3View(t, l, r.roots[1])
	})
}

// randomRun applies operations to roots[0] (the mount) and roots[1] (local).
type randomRun struct {
	t     *testing.T
	rng   *rand.Rand
	roots [2]string
}

// path picks a path in a small namespace, so that operations often meet.
func (r *randomRun) path() string {
	parts := []string{}
	for depth := r.rng.IntN(3); depth > 0; depth-- {
		parts = append(parts, "d"+strconv.Itoa(r.rng.IntN(3)))
	}
	parts = append(parts, "n"+strconv.Itoa(r.rng.IntN(5)))
	return filepath.Join(parts...)
}

func (r *randomRun) data() []byte {
	sizes := []int{0, 1, 100, 4096, 70_000, 300_000}
	return pattern(sizes[r.rng.IntN(len(sizes))], byte(r.rng.IntN(256)))
}

// both runs op on each root and compares the errnos and results.
func (r *randomRun) both(i int, what string, op func(root string) (string, error)) {
	r.t.Helper()
	var out [2]string
	var errs [2]error
	for k, root := range r.roots {
		out[k], errs[k] = op(root)
	}
	e0, e1 := errnoOf(errs[0]), errnoOf(errs[1])
	if e0 != e1 {
		r.t.Fatalf("op %d %s: mount %v, local %v", i, what, errs[0], errs[1])
	}
	if out[0] != out[1] {
		r.t.Fatalf("op %d %s: mount %q, local %q", i, what, trunc(out[0]), trunc(out[1]))
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	if err != nil {
		return syscall.Errno(1 << 20)
	}
	return 0
}

func (r *randomRun) step(i int) {
	p, q := r.path(), r.path()
	switch r.rng.IntN(13) {
	case 0, 1:
		data, mode := r.data(), os.FileMode(0o600+r.rng.IntN(0o200))
		r.both(i, "write "+p, func(root string) (string, error) {
			return "", os.WriteFile(filepath.Join(root, p), data, mode)
		})
	case 2:
		data, off := pattern(r.rng.IntN(5000), byte(i)), int64(r.rng.IntN(400_000))
		r.both(i, "pwrite "+p, func(root string) (string, error) {
			f, err := os.OpenFile(filepath.Join(root, p), os.O_RDWR, 0)
			if err != nil {
				return "", err
			}
			defer f.Close()
			_, err = f.WriteAt(data, off)
			return "", err
		})
	case 3:
		data := pattern(r.rng.IntN(3000), byte(i))
		r.both(i, "append "+p, func(root string) (string, error) {
			f, err := os.OpenFile(filepath.Join(root, p), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return "", err
			}
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return "", err
		})
	case 4:
		size := int64(r.rng.IntN(200_000))
		r.both(i, "truncate "+p, func(root string) (string, error) { return "", os.Truncate(filepath.Join(root, p), size) })
	case 5, 6:
		r.both(i, "read "+p, func(root string) (string, error) {
			b, err := os.ReadFile(filepath.Join(root, p))
			return string(b), err
		})
	case 7:
		r.both(i, "unlink "+p, func(root string) (string, error) { return "", syscall.Unlink(filepath.Join(root, p)) })
	case 8:
		r.both(i, "mkdir "+p, func(root string) (string, error) { return "", syscall.Mkdir(filepath.Join(root, p), 0o755) })
		d := filepath.Dir(p)
		r.both(i, "mkdir "+d, func(root string) (string, error) { return "", syscall.Mkdir(filepath.Join(root, d), 0o750) })
	case 9:
		r.both(i, "rmdir "+p, func(root string) (string, error) { return "", syscall.Rmdir(filepath.Join(root, p)) })
	case 10:
		r.both(i, "rename "+p+" "+q, func(root string) (string, error) {
			return "", syscall.Rename(filepath.Join(root, p), filepath.Join(root, q))
		})
	case 11:
		mode := uint32(0o400 + r.rng.IntN(0o400))
		r.both(i, "chmod "+p, func(root string) (string, error) { return "", syscall.Chmod(filepath.Join(root, p), mode) })
	case 12:
		d := filepath.Dir(p)
		r.both(i, "readdir "+d, func(root string) (string, error) { return listing(filepath.Join(root, d)) })
		r.both(i, "stat "+p, func(root string) (string, error) { return statString(filepath.Join(root, p)) })
	}
}

// listing returns a directory's sorted names and types.
func listing(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name()+":"+e.Type().String())
	}
	sort.Strings(names)
	return strings.Join(names, " "), nil
}

// statString returns what must agree between the two trees: type, permissions and size.
func statString(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return "", err
	}
	size := st.Size
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		size = 0 // directory sizes are the local file system's business
	}
	return strconv.FormatUint(uint64(st.Mode), 8) + " " + strconv.FormatInt(size, 10), nil
}

// compareTrees walks both trees and compares every entry and file content.
func (r *randomRun) compareTrees() {
	r.t.Helper()
	var trees [2]map[string]string
	for k, root := range r.roots {
		trees[k] = map[string]string{}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			st, err := statString(path)
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				st += " " + string(b)
			}
			trees[k][rel] = st
			return nil
		})
		if err != nil {
			r.t.Fatalf("walking %s: %v", root, err)
		}
	}
	for rel, want := range trees[1] {
		if got, ok := trees[0][rel]; !ok || got != want {
			r.t.Fatalf("%s: mount %q, local %q", rel, trunc(got), trunc(want))
		}
	}
	if len(trees[0]) != len(trees[1]) {
		r.t.Fatalf("mount has %d entries, local %d", len(trees[0]), len(trees[1]))
	}
}

// checkS3View checks the bucket through the layer against the local tree: every file is an
// object with its content and mode, every directory has keys below it or a marker, and no
// object stands for anything the tree lacks.
func checkS3View(t *testing.T, l objstore.ObjectLayer, local string) {
	t.Helper()
	checkS3Prefix(t, l, "", local)
}

// checkS3Prefix is checkS3View for the keys below prefix ("" or ending in "/").
func checkS3Prefix(t *testing.T, l objstore.ObjectLayer, prefix, local string) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	for marker := ""; ; {
		res, err := l.ListObjects(ctx, testBucket, objstore.ListOptions{Prefix: prefix, Marker: marker, MaxKeys: 1000})
		must(t, "ListObjects", err)
		for _, o := range res.Objects {
			if o.Key == prefix {
				continue
			}
			rel := strings.TrimSuffix(o.Key[len(prefix):], "/")
			seen[rel] = true
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(local, rel), &st); err != nil {
				t.Fatalf("object %q has no local counterpart: %v", o.Key, err)
			}
			isDir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
			if isDir != strings.HasSuffix(o.Key, "/") {
				t.Fatalf("object %q: local mode %o", o.Key, st.Mode)
			}
			if m, ok := parseMode(o.Metadata[metaMode]); !ok || m != st.Mode {
				t.Fatalf("object %q: stored mode %q, local %o", o.Key, o.Metadata[metaMode], st.Mode)
			}
			if !isDir {
				var want []byte
				if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
					target, err := os.Readlink(filepath.Join(local, rel))
					must(t, "readlink local", err)
					want = []byte(target)
				} else {
					want, err = os.ReadFile(filepath.Join(local, rel))
					must(t, "read local", err)
				}
				if got, _ := getObject(t, l, o.Key); !bytes.Equal(got, want) {
					t.Fatalf("object %q: %d bytes, local %d", o.Key, len(got), len(want))
				}
			}
			for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
				seen[d] = true
			}
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	err := filepath.WalkDir(local, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(local, path)
		if err == nil && rel != "." && !seen[rel] {
			t.Fatalf("%s exists locally but not in the bucket", rel)
		}
		return err
	})
	must(t, "walk", err)
}
