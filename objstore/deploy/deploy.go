// Package deploy assembles an object layer from drive paths: it expands the drive
// arguments, opens the drives, reads or writes their formats to put them in their sets, and
// builds the erasure sets and the pool over them. The binary and the tests use it alike.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage"
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
	// DriveOptions are passed to every local drive (tests set failpoints there).
	DriveOptions local.Options
	// WrapDrive, if set, wraps every drive (health checks, fault injection).
	WrapDrive func(storage.Drive) storage.Drive
	Log       *slog.Logger
}

// Deployment is an opened object layer.
type Deployment struct {
	*pool.Pool
	Layout *format.Layout
}

// Open opens the deployment cfg describes.
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
	seen := make(map[string]bool)
	drives := make([]storage.Drive, len(paths))
	for i, p := range paths {
		d, err := local.Open(p, cfg.DriveOptions)
		if err != nil {
			return nil, err
		}
		if seen[d.String()] {
			return nil, fmt.Errorf("drive %s given twice", d)
		}
		seen[d.String()] = true
		drives[i] = d
		if cfg.WrapDrive != nil {
			drives[i] = cfg.WrapDrive(d)
		}
	}
	layout, err := format.Assemble(ctx, drives)
	if err != nil {
		return nil, err
	}
	locks := &nslock.Map{}
	sets := make([]*erasureset.Set, len(layout.Sets))
	for i, ds := range layout.Sets {
		parity := cfg.Parity
		if parity < 0 {
			parity = format.DefaultParity(len(ds))
		}
		sets[i], err = erasureset.New(erasureset.Config{
			Index:       i,
			Drives:      ds,
			Parity:      parity,
			BlockSize:   cfg.BlockSize,
			Bitrot:      cfg.Bitrot,
			InlineLimit: cfg.InlineLimit,
			Locks:       locks,
			Log:         cfg.Log,
		})
		if err != nil {
			return nil, err
		}
	}
	p, err := pool.New(pool.Config{Sets: sets, PlacementKey: layout.PlacementKey, Locks: locks, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	return &Deployment{Pool: p, Layout: layout}, nil
}
