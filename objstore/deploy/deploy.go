// Package deploy assembles an object layer from drive paths: it expands the drive
// arguments, opens the drives, reads or writes their formats to put them in their sets, and
// builds the erasure sets and the pool over them. The binary and the tests use it alike.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/md5lanes"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// Config describes a deployment to open.
type Config struct {
	// Drives are directories, with "{a...b}" ranges.
	Drives []string
	// Parity is the parity of new objects; negative for the default of the set size.
	Parity int
	// BlockSize, Bitrot and InlineLimit override the erasure sets' defaults when not zero.
	BlockSize   int64
	Bitrot      erasure.BitrotAlgorithm
	InlineLimit int64
	// MD5Lanes is how many bodies must be hashed at once (recently) before the ETags of new
	// ones are hashed in the lanes of one multi-buffer MD5 (md5lanes): 0 for
	// md5lanes.DefaultThreshold, negative for never.
	MD5Lanes int
	// OpenDrive, if set, opens the drive an argument names instead of opening it as a
	// local directory: a cluster node opens its own drives and reaches the other nodes'
	// over the network (package remote). The arguments are then taken as they are: not
	// made absolute, not checked for existence, never formatted as a new deployment
	// unless every drive reads unformatted (the cluster formats through etcd first).
	OpenDrive func(arg string) (storage.Drive, error)
	// DriveOptions are passed to every local drive (tests set failpoints there).
	DriveOptions local.Options
	// WrapDrive, if set, wraps every local drive, inside its health tracking (tests inject
	// faults there).
	WrapDrive func(storage.Drive) storage.Drive
	// Health tunes the health tracking of every drive.
	Health health.Options
	// OnBitrot, if set, is passed to every erasure set: it is called with how many shards a
	// read or a heal found corrupt or truncated (see erasureset.Config.OnBitrot).
	OnBitrot func(shards int)
	// BeforeCommit, if set, is passed to every erasure set: a test hook
	// (erasureset.Config.BeforeCommit).
	BeforeCommit func(bucket, key string)
	// UploadExpiry tunes the expiry of incomplete multipart uploads (RunUploadExpiry).
	UploadExpiry UploadExpiryOptions
	// Now is the deployment's clock: it stamps the initiation of multipart uploads and
	// tells their age to the expiry (time.Now if nil; tests set a clock of their own).
	Now func() time.Time
	// BucketDocs, if set, keeps the buckets' configuration documents (a cluster's shared
	// store, see pool.Config.BucketDocs); nil keeps them on the drives.
	BucketDocs pool.BucketDocs
	// Locks, if set, grants the namespace locks of the sets and the pool: a cluster node's
	// routed locks (package cluster/owner). Nil: an nslock.Map of this process.
	Locks erasureset.Locker
	// SharedDrives says that other processes write the drives too (a cluster node): a
	// set's collector of unreferenced data directories runs only where Locks can watch
	// every lock of the set, its owner (erasureset.Config.SharedDrives).
	SharedDrives bool
	Log          *slog.Logger
}

// Deployment is an opened object layer.
type Deployment struct {
	*pool.Pool
	Layout *format.Layout
	// Drives are the health-tracked drives opened at start, in the order given; a drive that
	// could not be opened then is not among them (its slot opens it later, see positions).
	Drives []*health.Drive
	// positions hold the slot of every drive position, in set order: a slot lets calls
	// through while its drive serves, and fails them at once while the drive is out (left
	// out of the start, or taken out while running by the format check) until healing
	// brings it back.
	positions []*position
	// recovering serialises RecoverLeftOut (the background healer and a caller).
	recovering sync.Mutex
	cfg        Config
	log        *slog.Logger
	// reconnected receives the set of a drive that came back online.
	reconnected chan int
	expiry      UploadExpiryOptions
	now         func() time.Time
	// opened are the drives this deployment opened that hold something to release at
	// Close (a local drive's redo log).
	openedMu sync.Mutex
	opened   []io.Closer
	// md5 hands out the ETag hashes of every set's puts (lanes once many run at once).
	md5 *md5lanes.Source
}

// position is the slot of one drive position and where it stands.
type position struct {
	*slot
	set, index int
}

// Open opens the deployment cfg describes. Drives that cannot be used are left out, not
// fatal (see format.Assemble): Open fails only when the drives cannot be told apart as one
// deployment, or the arguments are wrong.
func Open(ctx context.Context, cfg Config) (*Deployment, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	paths, err := format.Expand(cfg.Drives)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no drives given")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DriveOptions.Commits == nil {
		// The deployment's drives on one file system share their journal commits.
		cfg.DriveOptions.Commits = local.NewCommitGroups()
	}
	dep := &Deployment{cfg: cfg, log: cfg.Log, reconnected: make(chan int, 64), expiry: cfg.UploadExpiry.withDefaults(), now: cfg.Now}
	drives, err := dep.openDrives(ctx, paths)
	if err != nil {
		dep.Close()
		return nil, err
	}
	layout, err := format.Assemble(ctx, drives)
	if err != nil {
		dep.Close()
		return nil, err
	}
	dep.placeSlots(layout)
	var locks erasureset.Locker = &nslock.Map{}
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	lanes := cfg.MD5Lanes
	if lanes == 0 {
		lanes = md5lanes.DefaultThreshold()
	}
	dep.md5 = md5lanes.New(max(lanes, 0))
	sets := make([]*erasureset.Set, len(layout.Sets))
	for i, ds := range layout.Sets {
		parity := cfg.Parity
		if parity < 0 {
			parity = format.DefaultParity(len(ds))
		}
		sets[i], err = erasureset.New(erasureset.Config{
			Index:        i,
			Drives:       ds,
			Parity:       parity,
			BlockSize:    cfg.BlockSize,
			Bitrot:       cfg.Bitrot,
			InlineLimit:  cfg.InlineLimit,
			Locks:        locks,
			Log:          cfg.Log,
			OnBitrot:     cfg.OnBitrot,
			BeforeCommit: cfg.BeforeCommit,
			Now:          cfg.Now,
			MD5:          dep.md5,
			SharedDrives: cfg.SharedDrives,
		})
		if err != nil {
			dep.Close()
			return nil, err
		}
	}
	p, err := pool.New(pool.Config{Sets: sets, PlacementKey: layout.PlacementKey, Locks: locks, BucketDocs: cfg.BucketDocs, Log: cfg.Log})
	if err != nil {
		dep.Close()
		return nil, err
	}
	dep.Pool, dep.Layout = p, layout
	dep.logStart()
	dep.recoverJournal(ctx)
	return dep, nil
}

// recoverJournal completes the multi-key operations (directory renames) that a crash or
// an error interrupted, before anyone sees the store. What it cannot decide yet (drives
// missing) RunHealing tries again.
func (dep *Deployment) recoverJournal(ctx context.Context) {
	done, undecided, err := dep.Pool.RecoverJournal(ctx)
	if done > 0 || undecided > 0 || err != nil {
		dep.log.Warn("journal recovery", "completed", done, "undecided", undecided, "err", err)
	}
}

// healthOptions adds to the configured options the hook that notices a drive coming back.
func (dep *Deployment) healthOptions(o health.Options) health.Options {
	user := o.OnStateChange
	o.OnStateChange = func(d *health.Drive, online bool) {
		if online {
			dep.log.Info("drive back online", "drive", d.String())
			dep.noteReconnect(d)
		} else {
			dep.log.Warn("drive offline", "drive", d.String(), "stats", d.Stats())
		}
		if user != nil {
			user(d, online)
		}
	}
	return o
}

// noteReconnect queues a heal of the set of a drive that came back: it missed the writes
// made while it was away.
func (dep *Deployment) noteReconnect(d *health.Drive) {
	if dep.Pool == nil {
		return
	}
	for si, s := range dep.Sets() {
		for _, sd := range s.Drives() {
			if sl, ok := sd.(*slot); ok && sl.Online() && sl.state.Load().inner == d {
				sd = d
			}
			if sd == storage.Drive(d) {
				select {
				case dep.reconnected <- si:
				default:
				}
			}
		}
	}
}

// Close stops the drives' health probers and releases what the drives it opened hold.
func (dep *Deployment) Close() {
	for _, d := range dep.Drives {
		d.Close()
	}
	for _, p := range dep.positions {
		p.Close()
	}
	if dep.md5 != nil {
		dep.md5.Close()
	}
	dep.openedMu.Lock()
	defer dep.openedMu.Unlock()
	for _, c := range dep.opened {
		if err := c.Close(); err != nil {
			dep.log.Warn("closing a drive", "drive", fmt.Sprint(c), "err", err)
		}
	}
	dep.opened = nil
}
