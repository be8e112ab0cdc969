package fusefs

import (
	"context"
	"fmt"
	"time"
)

// Durability is the mount's durability contract: when a file written through it survives
// a crash of the machine.
type Durability int

const (
	// DurableClose (the default): close returns once the object is on stable storage with
	// write quorum, as an S3 PUT is.
	DurableClose Durability = iota
	// DurableFsync is a local disk's contract: close makes the file visible to S3 and to the
	// mount at once without waiting for the disk; fsync or fdatasync of a file of the mount,
	// or the flusher within Options.FlushInterval (1 s by default), makes it (and everything written before) durable.
	// It needs Options.SyncDrives.
	DurableFsync
)

// DefaultFlushInterval bounds the unsynced window of DurableFsync: the flusher syncs the
// drives this often unless Options.FlushInterval says otherwise.
const DefaultFlushInterval = time.Second

// ParseDurability reads the flag's value: "close" or "fsync".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "close", "":
		return DurableClose, nil
	case "fsync":
		return DurableFsync, nil
	}
	return 0, fmt.Errorf("fusefs: durability %q: want close or fsync", s)
}

// String is the flag's spelling.
func (d Durability) String() string {
	if d == DurableFsync {
		return "fsync"
	}
	return "close"
}

// syncDrives makes every commit made before the call durable (DurableFsync's fsync);
// with DurableClose every commit already is.
func (f *fsys) syncDrives() error {
	if f.sync == nil {
		return nil
	}
	return f.sync(f.ctx)
}

// flush syncs the drives every interval until stop is closed, then once more, so that
// an unmount leaves nothing unsynced. Errors are logged: the next round retries, and an
// fsync reports its own.
func (f *fsys) flush(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if err := f.sync(context.WithoutCancel(f.ctx)); err != nil {
				f.log.Warn("fusefs: final sync of the drives", "err", err)
			}
			return
		case <-t.C:
			if err := f.sync(f.ctx); err != nil {
				f.log.Warn("fusefs: background sync of the drives", "err", err)
			}
		}
	}
}
