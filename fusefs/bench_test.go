package fusefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The benchmarks measure the mount beside its limits in the same run: the same work on a
// plain local directory (on the disk that holds the drives) and through the object layer
// called directly. Run them one iteration at a time (the machine is shared):
//
//	go test -run '^$' -bench . -benchtime 1x -benchmem ./fusefs/
//
// FLASHSTOR_BENCH_BYTES sets the sequential file's size (default 1 GiB);
// FLASHSTOR_BENCH_TREE the tree BenchmarkExtract extracts (default $GOROOT/src).

// benchBytes returns the size of the sequential benchmark's file.
func benchBytes() int64 {
	if s := os.Getenv("FLASHSTOR_BENCH_BYTES"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 1 << 30
}

// chunkSource yields size bytes, a 1 MiB random chunk repeated (with its first bytes
// changed per chunk, so that no two chunks are equal).
type chunkSource struct {
	chunk []byte
	left  int64
	n     int
}

func newChunkSource(size int64) *chunkSource {
	return &chunkSource{chunk: pattern(1<<20, 9), left: size}
}

func (c *chunkSource) next() []byte {
	if c.left == 0 {
		return nil
	}
	n := min(int64(len(c.chunk)), c.left)
	c.left -= n
	c.n++
	copy(c.chunk, strconv.Itoa(c.n))
	return c.chunk[:n]
}

func (c *chunkSource) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunk[:min(int64(len(c.chunk)), c.left)])
	c.left -= int64(n)
	return n, nil
}

// dropCaches empties the page cache, so that reads come from the disk.
func dropCaches(b testing.TB) {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		b.Logf("cannot drop the page cache (%v): reads may come from memory", err)
	}
}

func writeFile(b testing.TB, path string, size int64) {
	f, err := os.Create(path)
	must(b, "create", err)
	src := newChunkSource(size)
	for c := src.next(); c != nil; c = src.next() {
		if _, err := f.Write(c); err != nil {
			b.Fatal(err)
		}
	}
	must(b, "fsync", f.Sync())
	must(b, "close", f.Close())
}

func readFile(b *testing.B, path string) int64 {
	f, err := os.Open(path)
	must(b, "open", err)
	defer f.Close()
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			return total
		}
		must(b, "read", err)
	}
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

// BenchmarkSequential writes then reads one large file through the mount, beside a local
// directory and the object layer (4 drives), in the same iteration, and reports each rate
// and the mount's ratio to the layer.
func BenchmarkSequential(b *testing.B) {
	size := benchBytes()
	base := b.TempDir()
	l := layerAt(b, filepath.Join(base, "d{1...4}"))
	must(b, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	dir := filepath.Join(mountLayer(b, l, Options{}), testBucket)
	local := filepath.Join(base, "local")
	must(b, "mkdir", os.Mkdir(local, 0o755))
	ctx := context.Background()
	ceiling := memoryMount(b, size)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("seq-%d", i)
		rates := map[string]float64{}
		timed := func(name string, fn func()) {
			start := time.Now()
			fn()
			rates[name] = mbps(size, time.Since(start))
		}
		timed("local-write", func() { writeFile(b, filepath.Join(local, key), size) })
		timed("layer-write", func() {
			if _, err := l.PutObject(ctx, testBucket, key+"-direct", newChunkSource(size), size, objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		timed("mount-write", func() { writeFile(b, filepath.Join(dir, key), size) })
		dropCaches(b)
		timed("local-read", func() { readFile(b, filepath.Join(local, key)) })
		dropCaches(b)
		timed("layer-read", func() {
			h, err := l.OpenObject(ctx, testBucket, key+"-direct")
			must(b, "OpenObject", err)
			if _, err := h.WriteRange(ctx, io.Discard, 0, size); err != nil {
				b.Fatal(err)
			}
			h.Close()
		})
		dropCaches(b)
		timed("mount-read", func() {
			if n := readFile(b, filepath.Join(dir, key)); n != size {
				b.Fatalf("read %d bytes of %d", n, size)
			}
		})
		dropCaches(b)
		timed("fuse-ceiling-read", func() {
			if n := readFile(b, ceiling); n != size {
				b.Fatalf("read %d bytes of %d", n, size)
			}
		})
		for _, name := range []string{"local-write", "layer-write", "mount-write", "local-read", "layer-read", "mount-read", "fuse-ceiling-read"} {
			b.ReportMetric(rates[name], name+"-MB/s")
		}
		b.ReportMetric(100*rates["mount-write"]/rates["layer-write"], "mount/layer-write-%")
		b.ReportMetric(100*rates["mount-read"]/rates["layer-read"], "mount/layer-read-%")
		b.ReportMetric(100*rates["mount-read"]/rates["fuse-ceiling-read"], "mount/fuse-ceiling-read-%")
		os.Remove(filepath.Join(local, key))
		os.Remove(filepath.Join(dir, key))
		l.DeleteObject(ctx, testBucket, key+"-direct")
	}
}

// memoryMount mounts a go-fuse file system holding one in-memory file of size bytes (the
// same bytes as the benchmark's), and returns the file's path: reading it measures what
// FUSE itself costs on this machine, with no storage behind it, the ceiling of any
// FUSE read path. Its readahead window is the mount's.
func memoryMount(b *testing.B, size int64) string {
	data := make([]byte, 0, size)
	src := newChunkSource(size)
	for c := src.next(); c != nil; c = src.next() {
		data = append(data, c...)
	}
	root := &fs.Inode{}
	mnt := b.TempDir()
	srv, err := fs.Mount(mnt, root, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, MaxWrite: 1 << 20, MaxReadAhead: 1 << 20, DisableSplice: true},
		OnAdd: func(ctx context.Context) {
			ch := root.NewPersistentInode(ctx, &fs.MemRegularFile{Data: data, Attr: fuse.Attr{Mode: 0o644}}, fs.StableAttr{})
			root.AddChild("file", ch, false)
		},
	})
	must(b, "mount the in-memory file system", err)
	b.Cleanup(func() { srv.Unmount() })
	if err := setReadAhead(mnt, 1024); err != nil {
		b.Logf("readahead: %v", err)
	}
	return filepath.Join(mnt, "file")
}

// loopbackMount mounts go-fuse's loopback file system over dir (a directory on the same
// disk as the drives) with the mount's cache timeouts: the ceiling of a FUSE file system
// with a local disk's contract on this machine, every request passed to the file system
// below and nothing else done. It is the limit for the fsync mode's extraction: no FUSE
// file system here can create files faster.
func loopbackMount(b *testing.B, dir string) string {
	root, err := fs.NewLoopbackRoot(dir)
	must(b, "loopback root", err)
	timeout := 10 * time.Minute
	mnt := b.TempDir()
	srv, err := fs.Mount(mnt, root, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, AllowOther: true, MaxWrite: 1 << 20,
			MaxReadAhead: 1 << 20, DisableSplice: true, IgnoreSecurityLabels: true,
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC},
		EntryTimeout: &timeout, AttrTimeout: &timeout, NegativeTimeout: &timeout,
	})
	must(b, "mount the loopback file system", err)
	b.Cleanup(func() { srv.Unmount() })
	return mnt
}

// goSourceTarball builds a tarball of the Go source tree (about 10,000 files) once per run.
func goSourceTarball(b *testing.B) (path string, files int) {
	b.Helper()
	path = filepath.Join(b.TempDir(), "go-src.tar")
	root := filepath.Join(goroot(b), "src")
	if tree := os.Getenv("FLASHSTOR_BENCH_TREE"); tree != "" {
		// A subtree (e.g. $GOROOT/src/net, 415 files) keeps a run short on a shared machine.
		root = tree
	}
	cmd := exec.Command("tar", "-C", filepath.Dir(root), "-cf", path, filepath.Base(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("tar: %v %s", err, out)
	}
	f, err := os.Open(path)
	must(b, "open", err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return path, files
		}
		must(b, "tar", err)
		if h.Typeflag == tar.TypeReg {
			files++
		}
	}
}

// putTarball stores a tarball's files through the layer, one PutObject each: what an
// extraction costs the core.
func putTarball(b *testing.B, l objstore.ObjectLayer, path, prefix string) {
	f, err := os.Open(path)
	must(b, "open", err)
	defer f.Close()
	tr := tar.NewReader(f)
	ctx := context.Background()
	var buf bytes.Buffer
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		must(b, "tar", err)
		key := prefix + strings.TrimPrefix(h.Name, "./")
		switch h.Typeflag {
		case tar.TypeDir:
			key = strings.TrimSuffix(key, "/") + "/"
			_, err = l.PutObject(ctx, testBucket, key, bytes.NewReader(nil), 0, objstore.PutOptions{})
		case tar.TypeReg:
			buf.Reset()
			if _, err := buf.ReadFrom(tr); err != nil {
				b.Fatal(err)
			}
			_, err = l.PutObject(ctx, testBucket, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), objstore.PutOptions{})
		}
		must(b, "put "+key, err)
	}
}

// BenchmarkExtract extracts the Go source tree with tar into the mount (durable close, a
// second mount in fsync mode and a third in fsync mode without write-behind, each on drives
// of its own), beside a local directory, go-fuse's loopback over a local directory (the
// FUSE ceiling) and the same files put through the layer, and reports files/s. mount-fsync is until tar ends (its closes returned: the files are
// visible), mount-fsync-drained until the write-behind has committed every file too.
func BenchmarkExtract(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	tarball, files := goSourceTarball(b)
	base := b.TempDir()
	l := layerAt(b, filepath.Join(base, "d{1...4}"))
	must(b, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	dir := filepath.Join(mountLayer(b, l, Options{}), testBucket)
	lf := layerAt(b, filepath.Join(base, "f{1...4}"))
	must(b, "MakeBucket", lf.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	fsyncDir := filepath.Join(mountLayer(b, lf, Options{Durability: DurableFsync, SyncDrives: lf.(*deploy.Deployment).SyncDrives}), testBucket)
	// fsync mode without the write-behind: close commits in the foreground (before it).
	ln := layerAt(b, filepath.Join(base, "n{1...4}"))
	must(b, "MakeBucket", ln.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	noWBDir := filepath.Join(mountLayer(b, ln, Options{Durability: DurableFsync, SyncDrives: ln.(*deploy.Deployment).SyncDrives, NoWriteBehind: true}), testBucket)
	loopbackBase := filepath.Join(base, "loopback")
	must(b, "mkdir", os.Mkdir(loopbackBase, 0o755))
	loopback := loopbackMount(b, loopbackBase)
	// FLASHSTOR_BENCH_FSYNC_ONLY=1 leaves out the durable mount and the layer: the fsync
	// pairs alone, quicker.
	fsyncOnly := os.Getenv("FLASHSTOR_BENCH_FSYNC_ONLY") != ""
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rates := map[string]float64{}
		// CPU per file, in microseconds: this process's (the mounts' servers, the
		// write-behind's commits while tar runs) and tar's. It moves less than the wall time
		// on a shared machine; the kernel's own threads (journal, writeback) are not in it.
		cpu := map[string]float64{}
		extract := func(name, into string) {
			must(b, "mkdir", os.MkdirAll(into, 0o755))
			cpu0 := cpuTime(b)
			start := time.Now()
			cmd := exec.Command("tar", "-C", into, "-xf", tarball)
			cmd.Dir = "/"
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("tar -x into %s: %v %s", into, err, out)
			}
			rates[name] = float64(files) / time.Since(start).Seconds()
			used := cpuTime(b) - cpu0 + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			cpu[name] = float64(used.Microseconds()) / float64(files)
		}
		extract("local", filepath.Join(base, fmt.Sprintf("local-%d", i)))
		extract("loopback", filepath.Join(loopback, fmt.Sprintf("x-%d", i)))
		if !fsyncOnly {
			extract("mount", filepath.Join(dir, fmt.Sprintf("x-%d", i)))
		}
		withWB := func() {
			start := time.Now()
			extract("mount-fsync", filepath.Join(fsyncDir, fmt.Sprintf("x-%d", i)))
			// Until the write-behind has committed every file: the background work, so
			// that it does not run into the next extraction.
			must(b, "FlushAll", lf.(*deploy.Deployment).FlushAll(context.Background()))
			rates["mount-fsync-drained"] = float64(files) / time.Since(start).Seconds()
		}
		withoutWB := func() { extract("mount-fsync-nowb", filepath.Join(noWBDir, fmt.Sprintf("x-%d", i))) }
		if i%2 == 0 { // alternating, so that neither always runs first
			withWB()
			withoutWB()
		} else {
			withoutWB()
			withWB()
		}
		if !fsyncOnly {
			start := time.Now()
			putTarball(b, l, tarball, fmt.Sprintf("direct-%d/", i))
			rates["layer"] = float64(files) / time.Since(start).Seconds()
		}
		b.Logf("run %d: go-fuse loopback (the FUSE ceiling) %.0f files/s, %.1f %% of local; mount-fsync %.1f %% of the loopback; CPU us/file: loopback %.0f",
			i, rates["loopback"], 100*rates["loopback"]/rates["local"], 100*rates["mount-fsync"]/rates["loopback"], cpu["loopback"])
		b.Logf("run %d: local %.0f, mount-fsync %.0f (drained %.0f), mount-fsync-nowb %.0f files/s (%.1f %% and %.1f %% of local); mount (close) %.0f, layer %.0f; CPU us/file: local %.0f, mount-fsync %.0f, mount-fsync-nowb %.0f, mount (close) %.0f; write-behind %+v",
			i, rates["local"], rates["mount-fsync"], rates["mount-fsync-drained"], rates["mount-fsync-nowb"],
			100*rates["mount-fsync"]/rates["local"], 100*rates["mount-fsync-nowb"]/rates["local"],
			rates["mount"], rates["layer"], cpu["local"], cpu["mount-fsync"], cpu["mount-fsync-nowb"], cpu["mount"],
			lf.(*deploy.Deployment).WriteBehindStats())
		for _, name := range []string{"local", "loopback", "layer", "mount", "mount-fsync", "mount-fsync-drained", "mount-fsync-nowb"} {
			b.ReportMetric(rates[name], name+"-files/s")
		}
		b.ReportMetric(100*rates["mount"]/rates["local"], "mount/local-%")
		b.ReportMetric(100*rates["mount-fsync"]/rates["local"], "mount-fsync/local-%")
		b.ReportMetric(100*rates["mount-fsync-nowb"]/rates["local"], "mount-fsync-nowb/local-%")
		b.ReportMetric(100*rates["loopback"]/rates["local"], "loopback/local-%")
		b.ReportMetric(100*rates["mount-fsync"]/rates["loopback"], "mount-fsync/loopback-%")
		b.ReportMetric(100*rates["mount"]/rates["layer"], "mount/layer-%")
		for _, name := range []string{"local", "loopback", "mount", "mount-fsync", "mount-fsync-nowb"} {
			b.ReportMetric(cpu[name], name+"-cpu-us/file")
		}
		b.ReportMetric(float64(files), "files")
	}
}

// BenchmarkReaddir lists a directory of 100,000 objects (FLASHSTOR_BENCH_ENTRIES) through
// the mount, names only and then with every entry's attributes (readdirplus, as ls -l and
// rsync do), beside the same listing through the layer and of a local directory, and
// reports entries/s.
func BenchmarkReaddir(b *testing.B) {
	n := 100_000
	if s := os.Getenv("FLASHSTOR_BENCH_ENTRIES"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	base := b.TempDir()
	l := layerAt(b, filepath.Join(base, "d{1...4}"))
	ctx := context.Background()
	must(b, "MakeBucket", l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}))
	local := filepath.Join(base, "local")
	must(b, "mkdir", os.Mkdir(local, 0o755))
	parallel(n, func(i int) {
		name := fmt.Sprintf("entry-%07d", i)
		if _, err := l.PutObject(ctx, testBucket, "big/"+name, bytes.NewReader(nil), 0, objstore.PutOptions{}); err != nil {
			b.Error(err)
		}
		if err := os.WriteFile(filepath.Join(local, name), nil, 0o644); err != nil {
			b.Error(err)
		}
	})
	dir := filepath.Join(mountLayer(b, l, Options{}), testBucket, "big")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rates := map[string]float64{}
		timed := func(name string, fn func() int) {
			start := time.Now()
			if got := fn(); got != n {
				b.Fatalf("%s listed %d entries, want %d", name, got, n)
			}
			rates[name] = float64(n) / time.Since(start).Seconds()
		}
		timed("local", func() int { ents, _ := os.ReadDir(local); return len(ents) })
		timed("layer", func() int {
			count, page := 0, listPage
			for marker := ""; ; {
				res, err := l.ListObjects(ctx, testBucket, objstore.ListOptions{Prefix: "big/", Delimiter: "/", Marker: marker, MaxKeys: page})
				must(b, "ListObjects", err)
				count += len(res.Objects)
				if !res.IsTruncated {
					return count
				}
				marker, page = res.NextMarker, min(page*4, maxListPage)
			}
		})
		timed("mount-names", func() int {
			f, err := os.Open(dir)
			must(b, "open", err)
			defer f.Close()
			names, err := f.Readdirnames(-1)
			must(b, "readdir", err)
			return len(names)
		})
		timed("mount-stat", func() int {
			ents, err := os.ReadDir(dir)
			must(b, "readdir", err)
			for _, e := range ents {
				if _, err := e.Info(); err != nil {
					b.Fatal(err)
				}
			}
			return len(ents)
		})
		for _, name := range []string{"local", "layer", "mount-names", "mount-stat"} {
			b.ReportMetric(rates[name], name+"-entries/s")
		}
		b.ReportMetric(100*rates["mount-names"]/rates["layer"], "mount/layer-%")
	}
}
