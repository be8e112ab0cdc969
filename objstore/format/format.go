// Package format is the record each drive keeps of the deployment it belongs to, and the
// logic that puts drives given in any order back into their sets and positions by the
// record a quorum of them agree on, leaves out drives whose record cannot be used,
// recognises a drive of another deployment, and formats new or replaced drives.
package format

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Layout is the outcome of Assemble: the drives in their sets and positions.
type Layout struct {
	DeploymentID string
	PlacementKey [16]byte
	// Sets[s][i] is the drive at position i of set s, left-out drives included: the
	// caller keeps them from serving (see LeftOut).
	Sets [][]storage.Drive
	// Fresh lists the drives formatted by this start to replace missing ones (set, index):
	// they hold nothing yet and need a full heal.
	Fresh [][2]int
	// LeftOut lists the drives whose record could not be used: they hold their position
	// but must not serve until Recover brings them back.
	LeftOut []LeftOut
	// Migrated lists the drives (set, index) whose record this start rewrote from an
	// older version.
	Migrated [][2]int
	// Format is the deployment's format record (its DriveID is the first drive's).
	Format Format
}

// Reason says why a drive was left out of a start. Its String is a metric label.
type Reason int

// Why a drive is left out.
const (
	// ReasonReadFailed: the record could not be read (EIO, EACCES, ENOTDIR, a missing
	// directory, ...). Only the operator can fix that; healing retries it.
	ReasonReadFailed Reason = iota + 1
	// ReasonCorrupt: the record is not JSON, truncated, fails its checksum or holds
	// impossible values.
	ReasonCorrupt
	// ReasonUnknownVersion: the record's version is not one this binary reads.
	ReasonUnknownVersion
	// ReasonDisagrees: a well-formed record of this deployment that the quorum of drives
	// does not share (a version 1 record with a flipped digit, say).
	ReasonDisagrees
	// ReasonForeign: the drive now holds another deployment's record (a disk of another
	// deployment mounted where a left-out one was). Never overwritten.
	ReasonForeign
)

// Reasons lists every reason, for metrics that show each from the start.
var Reasons = []Reason{ReasonReadFailed, ReasonCorrupt, ReasonUnknownVersion, ReasonDisagrees, ReasonForeign}

func (r Reason) String() string {
	switch r {
	case ReasonReadFailed:
		return "read_failed"
	case ReasonCorrupt:
		return "corrupt_record"
	case ReasonUnknownVersion:
		return "unknown_version"
	case ReasonDisagrees:
		return "disagrees_with_quorum"
	case ReasonForeign:
		return "other_deployment"
	}
	return "unknown"
}

// LeftOut is a drive left out of a start.
type LeftOut struct {
	Set, Index int
	Drive      storage.Drive
	Reason     Reason
	// Err is what reading the record found.
	Err error
}

// reading is what one drive's record turned out to be.
type reading struct {
	f           *Format // a well-formed record
	hint        string  // the drive id a damaged or outvoted record still shows
	unformatted bool
	reason      Reason
	err         error
}

// readRecord reads and parses one drive's record.
func readRecord(ctx context.Context, d storage.Drive) reading {
	b, err := d.ReadFormat(ctx)
	switch {
	case errors.Is(err, storage.ErrUnformatted):
		return reading{unformatted: true}
	case err != nil:
		return reading{reason: ReasonReadFailed, err: err}
	}
	f, err := Parse(b)
	switch {
	case errors.Is(err, ErrUnknownVersion):
		return reading{hint: salvageDriveID(b), reason: ReasonUnknownVersion, err: err}
	case err != nil:
		return reading{hint: salvageDriveID(b), reason: ReasonCorrupt, err: err}
	}
	return reading{f: &f}
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// Assemble reads the format of every drive and returns them in their sets and positions.
//
// All unformatted: a new deployment, formatted in the order given. Otherwise the
// deployment is what the largest group of drives with identical, well-formed records says
// (a tie is refused: there is no telling which is right). A drive of another deployment is
// refused, never overwritten. Drives whose record cannot be read, is damaged, of an unknown
// version or outvoted are left out (Layout.LeftOut); unformatted drives are formatted for a
// free position (Layout.Fresh). A drive that has lost its record goes back to its own
// position where that can be told: the drive id its damaged record still shows, else its
// place in the order given. Records of an older version are rewritten in the current one
// when at least half of the drives agree.
//
// No drive with a usable record and some drive with an unusable one is refused: formatting
// a new deployment could overwrite one that is only unreadable for now.
func Assemble(ctx context.Context, drives []storage.Drive) (*Layout, error) {
	rs := make([]reading, len(drives))
	var wg sync.WaitGroup
	for i, d := range drives {
		wg.Go(func() { rs[i] = readRecord(ctx, d) })
	}
	wg.Wait()
	ref, err := quorum(drives, rs)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		var bad []string
		for i, r := range rs {
			if !r.unformatted {
				bad = append(bad, fmt.Sprintf("%s: %v", drives[i], r.err))
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("no drive holds a usable format record, and %d cannot be read (%s): refusing to format a new deployment over them",
				len(bad), strings.Join(bad, "; "))
		}
		return formatNew(ctx, drives)
	}
	return place(ctx, drives, rs, ref)
}

// quorum returns the record the deployment is assembled from, nil if no drive has a
// well-formed one, and marks the outvoted records of rs.
func quorum(drives []storage.Drive, rs []reading) (*Format, error) {
	byDeployment := make(map[string][]int)
	groups := make(map[string][]int)
	for i, r := range rs {
		if r.f != nil {
			byDeployment[r.f.DeploymentID] = append(byDeployment[r.f.DeploymentID], i)
			groups[r.f.agreement()] = append(groups[r.f.agreement()], i)
		}
	}
	dep, err := largest(byDeployment, "deployments")
	if err != nil || dep == nil {
		return nil, err
	}
	ref := rs[dep[0]].f
	for i, r := range rs {
		if r.f != nil && r.f.DeploymentID != ref.DeploymentID {
			return nil, fmt.Errorf("drive %s belongs to deployment %s, drive %s to deployment %s: a drive of another deployment was given",
				drives[i], r.f.DeploymentID, drives[dep[0]], ref.DeploymentID)
		}
	}
	win, err := largest(groups, "format records of deployment "+ref.DeploymentID)
	if err != nil {
		return nil, err
	}
	ref = rs[win[0]].f
	for i, r := range rs {
		if r.f != nil && r.f.agreement() != ref.agreement() {
			rs[i] = reading{reason: ReasonDisagrees, hint: r.f.DriveID,
				err: fmt.Errorf("its record of deployment %s differs from the one %d drives agree on", ref.DeploymentID, len(win))}
		}
	}
	return ref, nil
}

// largest returns the largest group, nil if there is none, or an error if two are as large.
func largest(groups map[string][]int, what string) ([]int, error) {
	var sizes []int
	var best []int
	for _, g := range groups {
		sizes = append(sizes, len(g))
		if len(g) > len(best) {
			best = g
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(sizes)))
	if len(sizes) > 1 && sizes[0] == sizes[1] {
		return nil, fmt.Errorf("drives hold %d different %s and no one of them has more drives than the others (%v): refusing to guess",
			len(sizes), what, sizes)
	}
	return best, nil
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

// write writes f as the record of the drive with id driveID.
func write(ctx context.Context, d storage.Drive, f Format, driveID string) error {
	f.DriveID = driveID
	b, err := Marshal(f)
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

// place puts the drives that agree with ref at their recorded positions and the others
// into the free positions: unformatted ones are formatted for theirs, the rest left out.
func place(ctx context.Context, drives []storage.Drive, rs []reading, ref *Format) (*Layout, error) {
	size, total := len(ref.Sets[0]), len(ref.Sets)*len(ref.Sets[0])
	if total != len(drives) {
		return nil, fmt.Errorf("deployment %s has %d drives, %d were given", ref.DeploymentID, total, len(drives))
	}
	l := &Layout{DeploymentID: ref.DeploymentID, Sets: make([][]storage.Drive, len(ref.Sets)), Format: *ref}
	for s := range ref.Sets {
		l.Sets[s] = make([]storage.Drive, size)
	}
	at := make([][2]int, len(drives))
	placed := make([]bool, len(drives))
	put := func(i, s, p int) {
		l.Sets[s][p], at[i], placed[i] = drives[i], [2]int{s, p}, true
	}
	free := func(s, p int) bool { return l.Sets[s][p] == nil }
	for i, r := range rs {
		if r.f == nil {
			continue
		}
		s, p, _ := ref.position(r.f.DriveID)
		if !free(s, p) {
			return nil, fmt.Errorf("drives %s and %s both claim id %s: was a drive copied?", l.Sets[s][p], drives[i], r.f.DriveID)
		}
		put(i, s, p)
	}
	// A damaged record's drive id, then the order given, then any free position.
	for i, r := range rs {
		if s, p, ok := ref.position(r.hint); !placed[i] && ok && free(s, p) {
			put(i, s, p)
		}
	}
	for i := range rs {
		if s, p := i/size, i%size; !placed[i] && free(s, p) {
			put(i, s, p)
		}
	}
	next := 0
	for i := range rs {
		if placed[i] {
			continue
		}
		for !free(next/size, next%size) {
			next++
		}
		put(i, next/size, next%size)
	}
	migrate := 2*countFormatted(rs) >= len(drives)
	for i, r := range rs {
		s, p := at[i][0], at[i][1]
		switch {
		case r.unformatted:
			if err := write(ctx, drives[i], *ref, ref.Sets[s][p]); err != nil {
				return nil, err
			}
			l.Fresh = append(l.Fresh, [2]int{s, p})
		case r.f == nil:
			l.LeftOut = append(l.LeftOut, LeftOut{Set: s, Index: p, Drive: drives[i], Reason: r.reason, Err: r.err})
		case r.f.Version < Version && migrate:
			if err := write(ctx, drives[i], *ref, ref.Sets[s][p]); err != nil {
				return nil, fmt.Errorf("migrating the format record to version %d: %w", Version, err)
			}
			l.Migrated = append(l.Migrated, [2]int{s, p})
		}
	}
	return l, l.setKey(ref.PlacementKey)
}

// countFormatted counts the drives whose record agrees with the quorum.
func countFormatted(rs []reading) int {
	n := 0
	for _, r := range rs {
		if r.f != nil {
			n++
		}
	}
	return n
}
