package format

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// QuarantineDir is the folder of the system volume that damaged records are moved to, one
// dated folder per move: nothing a drive held is deleted by healing it.
const QuarantineDir = "quarantine"

// Errors of Recover for drives it leaves as they are.
var (
	// ErrForeign: the drive holds the record of another deployment; never overwritten.
	ErrForeign = errors.New("drive belongs to another deployment")
	// ErrWrongPosition: the drive holds this deployment's record of another position.
	ErrWrongPosition = errors.New("drive holds the record of another position")
)

// Reformat writes the format record of position (set, index) to a drive that lost it (wiped
// or replaced while the server runs). It returns false, doing nothing, if the drive still has
// a record.
func (l *Layout) Reformat(ctx context.Context, set, index int) (bool, error) {
	d := l.Sets[set][index]
	_, err := d.ReadFormat(ctx)
	if !errors.Is(err, storage.ErrUnformatted) {
		return false, err
	}
	return true, write(ctx, d, l.Format, l.Format.Sets[set][index])
}

// Check reads the record of the drive serving position (set, index) while the server runs
// and says whether it may go on serving there: nil for the position's own record (of any
// version this binary reads); storage.ErrUnformatted, wrapped, for a drive without one (wiped
// or swapped for an empty disk: Reformat it); otherwise the reason to take it out of service
// and the error: a record damaged or of an unknown version, another deployment's
// (ErrForeign: a disk of another deployment put in its place, never written to) or another
// position's (ErrWrongPosition). A read error other than a missing record is returned with
// ReasonReadFailed; the caller decides whether that is the drive's health or its record.
func (l *Layout) Check(ctx context.Context, set, index int, d storage.Drive) (Reason, error) {
	b, err := d.ReadFormat(ctx)
	switch {
	case errors.Is(err, storage.ErrUnformatted):
		return 0, err
	case err != nil:
		return ReasonReadFailed, fmt.Errorf("reading the format record of %s: %w", d, err)
	}
	f, err := Parse(b)
	switch {
	case errors.Is(err, ErrUnknownVersion):
		return ReasonUnknownVersion, fmt.Errorf("format record of %s: %w", d, err)
	case err != nil:
		return ReasonCorrupt, fmt.Errorf("format record of %s: %w", d, err)
	case f.DeploymentID != l.DeploymentID:
		return ReasonForeign, fmt.Errorf("%w: %s holds deployment %s, not %s", ErrForeign, d, f.DeploymentID, l.DeploymentID)
	case f.agreement() != l.Format.agreement() || f.DriveID != l.Format.Sets[set][index]:
		return ReasonDisagrees, fmt.Errorf("%w: %s holds drive %s, not the record of set %d position %d", ErrWrongPosition, d, f.DriveID, set, index)
	}
	return 0, nil
}

// Recovery is what Recover did to bring a left-out drive back.
type Recovery struct {
	// Formatted: the drive had no usable record and now has the one of its position; it
	// needs a full heal (its data, if any, is checked shard by shard).
	Formatted bool
	// MovedTo is where in the system volume the damaged record was moved, "" if none.
	MovedTo string
}

// Recover makes d fit to serve at position (set, index): a record of that position is left
// as it is; no record, or a damaged, outvoted or unknown-version one, is replaced by the
// position's record, the old one first moved into a dated folder of QuarantineDir. A drive
// that cannot be read, that holds another deployment's record (ErrForeign) or another
// position's stays out: the error says why. now dates the quarantine folder.
func (l *Layout) Recover(ctx context.Context, set, index int, d storage.Drive, now time.Time) (Recovery, error) {
	want := l.Format.Sets[set][index]
	b, err := d.ReadFormat(ctx)
	switch {
	case errors.Is(err, storage.ErrUnformatted):
		return Recovery{Formatted: true}, write(ctx, d, l.Format, want)
	case err != nil:
		return Recovery{}, fmt.Errorf("reading the format record of %s: %w", d, err)
	}
	f, perr := Parse(b)
	if perr == nil {
		switch {
		case f.DeploymentID != l.DeploymentID:
			return Recovery{}, fmt.Errorf("%w: %s holds deployment %s, not %s", ErrForeign, d, f.DeploymentID, l.DeploymentID)
		case f.agreement() == l.Format.agreement() && f.DriveID == want:
			if f.Version < Version {
				return Recovery{}, write(ctx, d, l.Format, want)
			}
			return Recovery{}, nil
		case f.agreement() == l.Format.agreement():
			s, i, _ := l.Format.position(f.DriveID)
			return Recovery{}, fmt.Errorf("%w: %s holds set %d position %d, not set %d position %d", ErrWrongPosition, d, s, i, set, index)
		}
	}
	dir := path.Join(QuarantineDir, now.UTC().Format("20060102T150405.000000000Z"))
	moved := path.Join(dir, "format.json")
	if err := d.WriteFile(ctx, storage.SysVolume, moved, b); err != nil {
		return Recovery{}, fmt.Errorf("moving the damaged format record of %s aside: %w", d, err)
	}
	return Recovery{Formatted: true, MovedTo: path.Join(storage.SysVolume, moved)}, write(ctx, d, l.Format, want)
}
