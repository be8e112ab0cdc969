// Package format is the record each drive keeps of the deployment it belongs to, and the
// logic that puts drives given in any order back into their sets and positions, recognises a
// drive of another deployment, and formats new or replaced drives.
package format

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Version is the format record version this binary writes and reads.
const Version = 1

// Format is a drive's record of its deployment.
type Format struct {
	Version int `json:"version"`
	// DeploymentID is shared by every drive of a deployment.
	DeploymentID string `json:"deploymentID"`
	// PlacementKey (32 hex digits) keys the hash that places objects on sets.
	PlacementKey string `json:"placementKey"`
	// DriveID is this drive's own id; Sets lists every drive's id by set and position.
	DriveID string     `json:"driveID"`
	Sets    [][]string `json:"sets"`
}

// Layout is the outcome of Assemble: the drives in their sets and positions.
type Layout struct {
	DeploymentID string
	PlacementKey [16]byte
	// Sets[s][i] is the drive at position i of set s.
	Sets [][]storage.Drive
	// Fresh lists the drives formatted by this start to replace missing ones (set, index):
	// they hold nothing yet and need a full heal.
	Fresh [][2]int
	// Format is the deployment's format record (its DriveID is the first drive's).
	Format Format
}

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

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// Assemble reads the format of every drive and returns them in their sets and positions.
// All unformatted: a new deployment, formatted in the order given. Some formatted: they
// must all belong to one deployment with as many drives as given; unformatted drives take
// the positions no formatted drive holds (replaced drives) and are formatted for them.
func Assemble(ctx context.Context, drives []storage.Drive) (*Layout, error) {
	formats := make([]*Format, len(drives))
	for i, d := range drives {
		b, err := d.ReadFormat(ctx)
		if errors.Is(err, storage.ErrUnformatted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("drive %s: %w", d, err)
		}
		var f Format
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("drive %s: unreadable format record: %w", d, err)
		}
		if f.Version < 1 || f.Version > Version {
			return nil, fmt.Errorf("drive %s: format version %d, this binary reads up to %d", d, f.Version, Version)
		}
		formats[i] = &f
	}
	var ref *Format
	for i, f := range formats {
		if f == nil {
			continue
		}
		if ref == nil {
			ref = f
			continue
		}
		if f.DeploymentID != ref.DeploymentID {
			return nil, fmt.Errorf("drive %s belongs to deployment %s, drive %s to deployment %s: a drive of another deployment was given",
				drives[i], f.DeploymentID, firstWith(drives, formats, ref.DeploymentID), ref.DeploymentID)
		}
	}
	if ref == nil {
		return formatNew(ctx, drives)
	}
	return placeFormatted(ctx, drives, formats, ref)
}

func firstWith(drives []storage.Drive, formats []*Format, deployment string) storage.Drive {
	for i, f := range formats {
		if f != nil && f.DeploymentID == deployment {
			return drives[i]
		}
	}
	return nil
}

// formatNew formats every drive for a new deployment.
func formatNew(ctx context.Context, drives []storage.Drive) (*Layout, error) {
	size, err := SetSize(len(drives))
	if err != nil {
		return nil, err
	}
	f := Format{Version: Version, DeploymentID: newID(), PlacementKey: newID()}
	for s := 0; s < len(drives)/size; s++ {
		ids := make([]string, size)
		for i := range ids {
			ids[i] = newID()
		}
		f.Sets = append(f.Sets, ids)
	}
	l := &Layout{DeploymentID: f.DeploymentID, Format: f}
	for s, ids := range f.Sets {
		l.Sets = append(l.Sets, drives[s*size:(s+1)*size])
		for i, id := range ids {
			if err := write(ctx, drives[s*size+i], f, id); err != nil {
				return nil, err
			}
		}
	}
	return l, l.setKey(f.PlacementKey)
}

func write(ctx context.Context, d storage.Drive, f Format, driveID string) error {
	f.DriveID = driveID
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := d.WriteFormat(ctx, b); err != nil {
		return fmt.Errorf("formatting drive %s: %w", d, err)
	}
	return nil
}

func (l *Layout) setKey(hexKey string) error {
	b, err := hex.DecodeString(hexKey)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("format: bad placement key %q", hexKey)
	}
	copy(l.PlacementKey[:], b)
	return nil
}

// placeFormatted puts formatted drives at their recorded positions and formats the others
// into the free positions.
func placeFormatted(ctx context.Context, drives []storage.Drive, formats []*Format, ref *Format) (*Layout, error) {
	pos := make(map[string][2]int)
	total := 0
	for s, ids := range ref.Sets {
		for i, id := range ids {
			pos[id] = [2]int{s, i}
			total++
		}
	}
	if total != len(drives) {
		return nil, fmt.Errorf("deployment %s has %d drives, %d were given", ref.DeploymentID, total, len(drives))
	}
	l := &Layout{DeploymentID: ref.DeploymentID, Sets: make([][]storage.Drive, len(ref.Sets)), Format: *ref}
	for s, ids := range ref.Sets {
		l.Sets[s] = make([]storage.Drive, len(ids))
	}
	for i, f := range formats {
		if f == nil {
			continue
		}
		p, ok := pos[f.DriveID]
		if !ok {
			return nil, fmt.Errorf("drive %s has id %s, which deployment %s does not list", drives[i], f.DriveID, ref.DeploymentID)
		}
		if prev := l.Sets[p[0]][p[1]]; prev != nil {
			return nil, fmt.Errorf("drives %s and %s both claim id %s: was a drive copied?", prev, drives[i], f.DriveID)
		}
		l.Sets[p[0]][p[1]] = drives[i]
	}
	next := 0
	for i, f := range formats {
		if f != nil {
			continue
		}
		for l.Sets[next/len(ref.Sets[0])][next%len(ref.Sets[0])] != nil {
			next++
		}
		s, p := next/len(ref.Sets[0]), next%len(ref.Sets[0])
		if err := write(ctx, drives[i], *ref, ref.Sets[s][p]); err != nil {
			return nil, err
		}
		l.Sets[s][p] = drives[i]
		l.Fresh = append(l.Fresh, [2]int{s, p})
	}
	return l, l.setKey(ref.PlacementKey)
}
