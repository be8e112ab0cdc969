package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// errMissing is why a drive directory that does not exist is left out of a deployment
// that exists: it may be a mount point whose disk is not mounted, and creating it would
// put that drive's data on the file system below.
var errMissing = errors.New("drive directory does not exist (not mounted?); it is not created while other drives hold a deployment")

// openDrives opens every drive path. A drive that cannot be opened gets a slot that
// answers its open error, so that format.Assemble leaves it out. A missing directory is
// created only for a new deployment: when no drive that exists holds or may hold a record.
func (dep *Deployment) openDrives(ctx context.Context, paths []string) ([]storage.Drive, error) {
	drives := make([]storage.Drive, len(paths))
	seen := make(map[string]bool)
	var missing []int
	if dep.cfg.OpenDrive != nil {
		for i, p := range paths {
			if seen[p] {
				return nil, fmt.Errorf("drive %s given twice", p)
			}
			seen[p] = true
			drives[i] = dep.open(p)
		}
		return drives, nil
	}
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("drive %s: %w", p, err)
		}
		if seen[abs] {
			return nil, fmt.Errorf("drive %s given twice", abs)
		}
		seen[abs] = true
		if errors.Is(checkExists(abs), errMissing) {
			missing = append(missing, i)
			continue
		}
		drives[i] = dep.open(abs)
	}
	fresh := true
	for _, d := range drives {
		if d == nil {
			continue
		}
		if _, err := d.ReadFormat(ctx); !errors.Is(err, storage.ErrUnformatted) {
			fresh = false
			break
		}
	}
	for _, i := range missing {
		abs, _ := filepath.Abs(paths[i])
		if fresh {
			drives[i] = dep.open(abs)
		} else {
			drives[i] = newSlot(abs, nil, format.ReasonReadFailed, checkExists(abs))
		}
	}
	return drives, nil
}

// checkExists returns errMissing, wrapped, if the drive directory path does not exist.
func checkExists(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, errMissing)
	}
	return nil
}

// open opens one local drive with health tracking, or returns a slot holding the error.
func (dep *Deployment) open(path string) storage.Drive {
	hd, err := dep.openHealth(path)
	if err != nil {
		return newSlot(path, nil, format.ReasonReadFailed, err)
	}
	dep.Drives = append(dep.Drives, hd)
	return hd
}

// openHealth opens one drive (a local one unless Config.OpenDrive says otherwise), wrapped
// as the configuration says, with health tracking.
func (dep *Deployment) openHealth(path string) (*health.Drive, error) {
	var d storage.Drive
	var err error
	if dep.cfg.OpenDrive != nil {
		d, err = dep.cfg.OpenDrive(path)
	} else {
		d, err = local.Open(path, dep.cfg.DriveOptions)
	}
	if err != nil {
		return nil, err
	}
	if c, ok := d.(io.Closer); ok {
		dep.openedMu.Lock()
		dep.opened = append(dep.opened, c)
		dep.openedMu.Unlock()
	}
	inner := d
	if dep.cfg.WrapDrive != nil {
		inner = dep.cfg.WrapDrive(d)
	}
	return health.Wrap(inner, dep.healthOptions(dep.cfg.Health)), nil
}

// placeSlots puts a slot at every drive position of the layout, so that a drive can be
// taken out of service and brought back while the sets run: a slot that lets calls through
// for a drive that serves, a closed one for every drive the layout left out, each logged
// loudly (the deployment runs without it until healing brings it back).
func (dep *Deployment) placeSlots(l *format.Layout) {
	out := make(map[[2]int]*slot)
	for _, lo := range l.LeftOut {
		var s *slot
		switch d := lo.Drive.(type) {
		case *slot: // not opened: its own error says more than the read's
			s = d
			s.store(slotState{out: true, reason: lo.Reason, err: d.state.Load().err})
		case *health.Drive:
			s = newSlot(d.String(), d, lo.Reason, lo.Err)
		default:
			s = newSlot(d.String(), nil, lo.Reason, lo.Err)
		}
		out[[2]int{lo.Set, lo.Index}] = s
		dep.log.Error("drive left out of this start: the deployment runs without it until healing brings it back",
			"drive", s.path, "set", lo.Set, "position", lo.Index, "reason", lo.Reason.String(), "err", s.state.Load().err)
	}
	for si, ds := range l.Sets {
		for i, d := range ds {
			s, ok := out[[2]int{si, i}]
			if !ok {
				hd, _ := d.(*health.Drive) // every drive the layout placed was opened with health tracking
				s = &slot{path: d.String()}
				s.store(slotState{inner: hd})
			}
			l.Sets[si][i] = s
			dep.positions = append(dep.positions, &position{slot: s, set: si, index: i})
		}
	}
	for _, pos := range l.Migrated {
		dep.log.Info("format record migrated", "drive", l.Sets[pos[0]][pos[1]].String(), "version", format.Version)
	}
}

// logStart says which sets start degraded, read-only or unavailable.
func (dep *Deployment) logStart() {
	for _, h := range dep.SetHealth() {
		switch {
		case h.Usable < h.ReadQuorum:
			dep.log.Error("erasure set below read quorum: its objects answer 503 until drives come back",
				"set", h.Set, "usable", h.Usable, "drives", h.Drives, "read_quorum", h.ReadQuorum)
		case h.Usable < h.WriteQuorum:
			dep.log.Error("erasure set below write quorum: it serves reads, writes answer 503",
				"set", h.Set, "usable", h.Usable, "drives", h.Drives, "write_quorum", h.WriteQuorum)
		case h.Usable < h.Drives:
			dep.log.Warn("erasure set degraded", "set", h.Set, "usable", h.Usable, "drives", h.Drives)
		}
	}
}

var _ objstore.HealthReporter = (*Deployment)(nil)

// SetHealth reports each set's drives: usable (not left out, and online for health
// tracking) against its read and write quorums.
func (dep *Deployment) SetHealth() []objstore.SetHealth {
	out := make([]objstore.SetHealth, len(dep.Sets()))
	for si, s := range dep.Sets() {
		k, m := s.Geometry()
		h := objstore.SetHealth{Set: si, Drives: len(s.Drives()), ReadQuorum: k, WriteQuorum: erasureset.WriteQuorum(k, m)}
		for _, d := range s.Drives() {
			switch d := d.(type) {
			case *slot:
				if d.Online() {
					h.Usable++
				} else if d.LeftOut() != "" {
					h.LeftOut = append(h.LeftOut, d.path)
				}
			case *health.Drive:
				if d.Online() {
					h.Usable++
				}
			default:
				h.Usable++
			}
		}
		out[si] = h
	}
	return out
}
