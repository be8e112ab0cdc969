package fusefs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Toggle is an option that defaults to a value chosen at mount time.
type Toggle int8

// The values of a Toggle.
const (
	// Auto picks the default: on when the mounting process is root, off otherwise.
	Auto Toggle = iota
	On
	Off
)

func (t Toggle) resolve(auto bool) bool {
	switch t {
	case On:
		return true
	case Off:
		return false
	}
	return auto
}

// Options tune a mount. The zero value is ready to use.
type Options struct {
	// UID and GID own the objects that carry no owner in their metadata (those written by S3
	// clients). Zero means the mounting process's IDs.
	UID, GID uint32
	// StagingDir holds the local files that random writes, overwrites and appends go
	// through. Each mount makes its own directory inside it and removes it at unmount, and
	// removes those that mounts of processes now gone (killed, crashed) left there.
	// Default: os.TempDir().
	StagingDir string
	// AllowOther lets every user of the machine use the mount (allow_other), and
	// DefaultPermissions has the kernel enforce mode bits and ownership
	// (default_permissions). Both are on by default when mounting as root, so that a mount
	// made by root is usable by everyone and permission checks work as on ext4.
	AllowOther, DefaultPermissions Toggle
	// Devices lets the device nodes on the mount be opened (the mount option "dev"). Off by
	// default, as for every FUSE mount (nodev): anyone who can write to a bucket through S3
	// can store an object that shows as any device (a disk, /dev/mem), and with Devices on
	// every user of the machine who may open that file reaches the device. Device nodes
	// can be made, listed, renamed and removed either way; opening one is EACCES without
	// Devices. Only root can turn it on (Mount fails otherwise).
	Devices bool
	// CacheTimeout is how long the kernel may keep entries and attributes without asking
	// again. Coherence does not depend on it: every change made through S3 invalidates the
	// kernel's caches at once. Default: 10 minutes.
	CacheTimeout time.Duration
	// ReadAheadKB is the kernel's readahead window for the mount, in KiB (set through
	// /sys/class/bdi as root): with the default 1024, sequential reads reach the mount as
	// 1 MiB requests rather than the kernel's 128 KiB. Negative keeps the kernel's value.
	ReadAheadKB int
	// Durability chooses when a write survives a crash of the machine (DurableClose by
	// default; DurableFsync needs SyncDrives).
	Durability Durability
	// SyncDrives makes every write made so far durable on every drive (syncfs of each
	// drive's file system): fsync's work, and the flusher's, in DurableFsync.
	SyncDrives func(ctx context.Context) error
	// FlushInterval bounds DurableFsync's unsynced window: the drives are synced this
	// often. Default: DefaultFlushInterval.
	FlushInterval time.Duration
	// NoWriteBehind turns off DurableFsync's write-behind: close then commits a small file
	// in the foreground (without waiting for the disk), as before write-behind.
	NoWriteBehind bool
	// Debug logs every FUSE request and reply.
	Debug bool
	// Log receives the mount's warnings. Default: slog.Default().
	Log *slog.Logger
	// Observe, if set, is called once per FUSE operation name ("Lookup", "GetAttr", "Read",
	// "Write", "Create", "Open", "ReadDirPlus", "Rename", "Unlink", "Mkdir", "Rmdir",
	// "Fsync", "Flush", "Release", "SetAttr", ...) when the file system is mounted, and
	// returns the function that records each call of that operation: its duration, and
	// whether it failed (its status was not OK, so a Lookup of a missing name counts as
	// failed). Recorders are called concurrently and must not block; a nil recorder
	// records nothing. When Observe is nil, requests go to the file system unwrapped.
	Observe func(op string) func(d time.Duration, failed bool)
}

// Server is a mounted file system and the server that answers its requests. (It cannot be
// called Mount: that is the function that makes one.)
type Server struct {
	mountpoint string
	server     *fuse.Server
	fsys       *fsys
	cleanup    sync.Once
	// served is closed once the server's loop has ended (the mount is gone).
	served chan struct{}
}

// Mount mounts the buckets of layer at mountpoint and starts serving; Unmount (or an
// external umount followed by Wait) stops. As root it mounts with the mount system call
// itself; otherwise it needs fusermount3 (Debian package fuse3).
func Mount(mountpoint string, layer objstore.ObjectLayer, opts Options) (*Server, error) {
	root := os.Geteuid() == 0
	if !root {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if _, err2 := exec.LookPath("fusermount"); err2 != nil {
				return nil, fmt.Errorf("fusefs: mounting as a non-root user needs fusermount3 (Debian package fuse3): %w", err)
			}
		}
	}
	if opts.Devices && !root {
		return nil, errors.New("fusefs: Options.Devices needs a mount made by root")
	}
	f, err := newFsys(layer, opts)
	if err != nil {
		return nil, err
	}
	timeout := opts.CacheTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	mo := fuse.MountOptions{
		FsName:       "flashstor",
		Name:         "flashstor",
		AllowOther:   opts.AllowOther.resolve(root),
		MaxWrite:     1 << 20,
		MaxReadAhead: 1 << 20,
		// security.* and system.* xattrs are answered "no data" by go-fuse itself: the
		// kernel asks for security.capability before every write.
		IgnoreSecurityLabels: true,
		// O_TRUNC comes with the open (not as a separate truncate by path, which would
		// commit an empty object at once): the truncation commits with the file. The mount
		// drops the set-id bits itself (killPrivFS, applySetattr), so the kernel marks an
		// inode without them and without security xattrs as such (SB_NOSEC) and stops
		// asking for security.capability before every write and for the attributes before
		// every chown: three to four FUSE requests fewer per small file.
		ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_HANDLE_KILLPRIV_V2,
		DirectMount:       root,
		DirectMountStrict: root,
		Debug:             opts.Debug,
		// Replies go out with one write: go-fuse's splice path cannot carry a 1 MiB read
		// reply (the pipe holds at most 1 MiB, header included), fails for every one and
		// logs it; measured, the write path is as fast.
		DisableSplice: true,
	}
	if opts.Devices {
		mo.Options = append(mo.Options, "dev")
	}
	if opts.DefaultPermissions.resolve(root) {
		mo.Options = append(mo.Options, "default_permissions")
	}
	mo.Logger = log.New(logWriter{f.log}, "", 0)
	if opts.Debug {
		mo.Logger = log.New(os.Stderr, "fusefs: ", log.Lmicroseconds)
	}
	server, err := serve(mountpoint, f.root, &fs.Options{
		MountOptions:    mo,
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             f.def.uid,
		GID:             f.def.gid,
	}, opts.Observe)
	if err != nil {
		f.close()
		return nil, fmt.Errorf("fusefs: mount %s: %w", mountpoint, err)
	}
	f.startFeed()
	if root && opts.ReadAheadKB >= 0 {
		kb := cmp.Or(opts.ReadAheadKB, 1024)
		if err := setReadAhead(mountpoint, kb); err != nil {
			f.log.Warn("fusefs: cannot set the mount's readahead", "kb", kb, "err", err)
		}
	}
	served := make(chan struct{})
	go func() {
		server.Wait()
		close(served)
	}()
	return &Server{mountpoint: mountpoint, server: server, fsys: f, served: served}, nil
}

// serve mounts the node tree of root at mountpoint and serves it, as fs.Mount does, with
// its RawFileSystem wrapped in an observedFS when observe is set.
func serve(mountpoint string, root fs.InodeEmbedder, opts *fs.Options, observe func(op string) func(time.Duration, bool)) (*fuse.Server, error) {
	raw := fuse.RawFileSystem(killPrivFS{fs.NewNodeFS(root, opts)})
	if observe != nil {
		raw = newObservedFS(raw, observe)
	}
	server, err := fuse.NewServer(raw, mountpoint, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		// Like fs.Mount, leave the serve loop: it ends by itself when the mount failed.
		return nil, err
	}
	return server, nil
}

// logWriter passes go-fuse's log lines to the mount's logger, as warnings.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn("fusefs: go-fuse: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// setReadAhead sets the readahead window of the mount's backing device.
func setReadAhead(mountpoint string, kb int) error {
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		return err
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(path, []byte(strconv.Itoa(kb)), 0)
}

// Unmount unmounts the file system and releases what the mount holds. It fails (EBUSY)
// while a process uses the mount; the mount then stays up. A mount unmounted from outside
// (umount, fusermount3 -u) is released too.
func (m *Server) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		if fuseMounted(m.mountpoint) {
			return fmt.Errorf("fusefs: unmount %s: %w", m.mountpoint, err)
		}
		// Gone already: the server's loop ends with the connection. A lazy detach leaves
		// the connection to the mount's last user, so the wait is bounded.
		select {
		case <-m.served:
		case <-time.After(unmountedWait):
			return fmt.Errorf("fusefs: unmount %s: %w (detached, still in use)", m.mountpoint, err)
		}
	}
	m.server.Wait()
	m.release()
	return nil
}

// unmountedWait bounds Unmount's wait for the end of a mount unmounted from outside.
const unmountedWait = 5 * time.Second

// fuseSuperMagic is statfs's f_type of a FUSE file system (linux/magic.h).
const fuseSuperMagic = 0x65735546

// fuseMounted reports whether a FUSE file system is mounted at dir; a dead one (ENOTCONN)
// is not.
func fuseMounted(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == fuseSuperMagic
}

// Wait blocks until the file system is unmounted (by Unmount or by an external umount),
// then releases what the mount holds.
func (m *Server) Wait() {
	m.server.Wait()
	m.release()
}

func (m *Server) release() { m.cleanup.Do(m.fsys.close) }

// CleanStale detaches a dead FUSE mount left at mountpoint by a process that died without
// unmounting (statfs then fails with ENOTCONN; stat may still answer from the kernel's
// attribute cache), so that a new mount can take its place. It does nothing to a live
// mount or a plain directory. It reports whether it detached one.
func CleanStale(mountpoint string) (bool, error) {
	var st syscall.Statfs_t
	err := syscall.Statfs(mountpoint, &st)
	if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		return false, nil
	}
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
			return false, fmt.Errorf("fusefs: detaching the stale mount at %s: %w", mountpoint, err)
		}
		return true, nil
	}
	tool := "fusermount3"
	if _, err := exec.LookPath(tool); err != nil {
		tool = "fusermount"
	}
	out, err := exec.Command(tool, "-u", "-z", mountpoint).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("fusefs: %s -u -z %s: %w: %s", tool, mountpoint, err, out)
	}
	return true, nil
}

// fsys is the state a mount shares between its nodes.
type fsys struct {
	layer objstore.ObjectLayer
	// ctx carries the mount's origin, so that the change feed tells the mount's own changes
	// from others'; it is cancelled at unmount. Core calls use it rather than the request's
	// context: the kernel interrupts requests for any signal (Go's SIGURG preemption
	// included), and a commit must not fail because of that.
	ctx    context.Context
	cancel context.CancelFunc
	origin *originToken
	def    owner
	// staging is this mount's directory of staging files; lock holds its lock
	// (makeStaging) until it is removed.
	staging string
	lock    *os.File
	// started is the time shown for directories that have none of their own.
	started time.Time
	log     *slog.Logger
	root    *rootNode
	feed    *feed
	// groups finds the node of a hard-link group by its id (links.go).
	groups linkGroups
	// stagedFiles counts the staging files made, for tests and metrics: sequential writes
	// must make none.
	stagedFiles atomic.Int64
	// sync is set in DurableFsync, where ctx defers the commits' syncs
	// (objstore.WithDeferredSync): it makes them durable, and the flusher calls it until
	// stopFlush is closed.
	sync func(ctx context.Context) error
	// behind is the core's write-behind (DurableFsync, unless Options.NoWriteBehind): the
	// close of a small file hands it to the core's pending table, which commits it in the
	// background; sync commits every pending put before it syncs the drives.
	behind    objstore.WriteBehind
	stopFlush chan struct{}
	flushDone chan struct{}
}

// originToken identifies a mount's own changes on the change feed.
type originToken struct{ _ byte }

func newFsys(layer objstore.ObjectLayer, opts Options) (*fsys, error) {
	def := owner{uid: opts.UID, gid: opts.GID}
	if def.uid == 0 {
		def.uid = uint32(os.Getuid())
	}
	if def.gid == 0 {
		def.gid = uint32(os.Getgid())
	}
	base := opts.StagingDir
	if base == "" {
		base = os.TempDir()
	}
	lg := opts.Log
	if lg == nil {
		lg = slog.Default()
	}
	staging, stagingLock, err := makeStaging(base, lg)
	if err != nil {
		return nil, err
	}
	origin := &originToken{}
	ctx, cancel := context.WithCancel(objstore.WithOrigin(context.Background(), origin))
	f := &fsys{
		layer:   layer,
		ctx:     ctx,
		cancel:  cancel,
		origin:  origin,
		def:     def,
		staging: staging,
		lock:    stagingLock,
		started: time.Now(),
		log:     lg,
	}
	f.root = &rootNode{fsys: f}
	if opts.Durability == DurableFsync {
		if opts.SyncDrives == nil {
			cancel()
			os.RemoveAll(staging)
			stagingLock.Close()
			return nil, errors.New("fusefs: DurableFsync needs Options.SyncDrives")
		}
		// Every core call of the mount commits without waiting for the disk.
		f.ctx = objstore.WithDeferredSync(f.ctx)
		f.sync = opts.SyncDrives
		if wb, ok := layer.(objstore.WriteBehind); ok && !opts.NoWriteBehind {
			wb.EnableWriteBehind()
			f.behind = wb
			syncDrives := opts.SyncDrives
			// The pending puts first: what close returned before the sync is on the drives
			// when it starts.
			f.sync = func(ctx context.Context) error {
				if err := wb.FlushAll(ctx); err != nil {
					return err
				}
				return syncDrives(ctx)
			}
		}
		f.stopFlush, f.flushDone = make(chan struct{}), make(chan struct{})
		go f.flush(cmp.Or(opts.FlushInterval, DefaultFlushInterval), f.stopFlush, f.flushDone)
	}
	return f, nil
}

// close stops the change feed and removes the staging files.
func (f *fsys) close() {
	if f.stopFlush != nil {
		close(f.stopFlush)
		<-f.flushDone
	}
	if f.feed != nil {
		f.feed.stop()
	}
	f.cancel()
	if err := os.RemoveAll(f.staging); err != nil {
		f.log.Warn("fusefs: removing the staging directory", "dir", f.staging, "err", err)
	}
	f.lock.Close()
}

// newStagingFile creates an empty staging file.
func (f *fsys) newStagingFile() (*os.File, error) {
	f.stagedFiles.Add(1)
	file, err := os.CreateTemp(f.staging, "stage-")
	if err != nil {
		return nil, fmt.Errorf("staging file: %w", err)
	}
	// Unlinked at once: it lives as long as the descriptor, even if the mount dies.
	if err := os.Remove(file.Name()); err != nil {
		file.Close()
		return nil, fmt.Errorf("staging file: %w", err)
	}
	return file, nil
}
