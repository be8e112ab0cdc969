package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Version is the format record version this binary writes. It reads every version from 1
// up to it; a record of an older version is rewritten in this one (migrated) once a quorum
// of drives agrees on the deployment (see Assemble).
//
// Version 1 is the bare record:
//
//	{"version": 1, "deploymentID": ..., "placementKey": ..., "driveID": ..., "sets": [[...]]}
//
// Version 2 wraps the same fields in a body and adds the SHA-256 of the body's compact JSON
// encoding, so that a flipped bit anywhere in the body is recognised as corruption rather
// than read as another deployment or another layout:
//
//	{"version": 2, "sha256": "<64 hex digits>", "body": {"deploymentID": ..., ...}}
const Version = 2

// Errors of Parse. Both mean the drive's record cannot be used: the drive is left out of
// the start, and healing moves the record aside and writes the quorum's in its place.
var (
	// ErrCorrupt: the record is not JSON, is truncated, fails its checksum or holds
	// impossible values.
	ErrCorrupt = errors.New("corrupt format record")
	// ErrUnknownVersion: the record's version is not one this binary reads.
	ErrUnknownVersion = errors.New("unknown format record version")
)

// Format is a drive's record of its deployment.
type Format struct {
	// Version is the version the record was read in (Marshal always writes Version).
	Version int `json:"-"`
	// DeploymentID is shared by every drive of a deployment.
	DeploymentID string `json:"deploymentID"`
	// PlacementKey (32 hex digits) keys the hash that places objects on sets.
	PlacementKey string `json:"placementKey"`
	// DriveID is this drive's own id; Sets lists every drive's id by set and position.
	DriveID string     `json:"driveID"`
	Sets    [][]string `json:"sets"`
}

// recordV1 is the version 1 file.
type recordV1 struct {
	Version int `json:"version"`
	Format
}

// recordV2 is the version 2 file. Body stays raw so that its checksum is computed over the
// bytes that were read.
type recordV2 struct {
	Version int             `json:"version"`
	SHA256  string          `json:"sha256"`
	Body    json.RawMessage `json:"body"`
}

// Marshal encodes f as a record of the current version.
func Marshal(f Format) ([]byte, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("format: encoding record: %w", err)
	}
	sum := sha256.Sum256(body)
	b, err := json.MarshalIndent(recordV2{Version: Version, SHA256: hex.EncodeToString(sum[:]), Body: body}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("format: encoding record: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes and checks a record of any version this binary reads. Its errors wrap
// ErrCorrupt or ErrUnknownVersion.
func Parse(b []byte) (Format, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Format{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if head.Version == nil {
		return Format{}, fmt.Errorf("%w: no version", ErrCorrupt)
	}
	var f Format
	switch *head.Version {
	case 1:
		var r recordV1
		if err := json.Unmarshal(b, &r); err != nil {
			return Format{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		f = r.Format
	case 2:
		var r recordV2
		if err := json.Unmarshal(b, &r); err != nil {
			return Format{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, r.Body); err != nil || len(r.Body) == 0 {
			return Format{}, fmt.Errorf("%w: no body", ErrCorrupt)
		}
		sum := sha256.Sum256(compact.Bytes())
		if r.SHA256 != hex.EncodeToString(sum[:]) {
			return Format{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		}
		if err := json.Unmarshal(r.Body, &f); err != nil {
			return Format{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	default:
		return Format{}, fmt.Errorf("%w %d (this binary reads 1 to %d)", ErrUnknownVersion, *head.Version, Version)
	}
	f.Version = *head.Version
	if err := f.check(); err != nil {
		return Format{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return f, nil
}

// idLen is the length of every id: 16 random bytes in hex.
const idLen = 32

func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// check reports what makes f impossible: ids that are not ids, sets of unequal sizes, an
// id twice, or a drive id the sets do not list.
func (f *Format) check() error {
	for _, id := range []string{f.DeploymentID, f.PlacementKey, f.DriveID} {
		if !validID(id) {
			return fmt.Errorf("bad id %q", id)
		}
	}
	if len(f.Sets) == 0 || len(f.Sets[0]) == 0 {
		return errors.New("no sets")
	}
	seen := make(map[string]bool)
	for _, set := range f.Sets {
		if len(set) != len(f.Sets[0]) {
			return errors.New("sets of unequal sizes")
		}
		for _, id := range set {
			if !validID(id) || seen[id] {
				return fmt.Errorf("bad or repeated drive id %q", id)
			}
			seen[id] = true
		}
	}
	if !seen[f.DriveID] {
		return fmt.Errorf("drive id %s is in no set", f.DriveID)
	}
	return nil
}

// position returns the set and index of id in f, and whether f lists it.
func (f *Format) position(id string) (set, index int, ok bool) {
	for s, ids := range f.Sets {
		for i, x := range ids {
			if x == id {
				return s, i, true
			}
		}
	}
	return 0, 0, false
}

// agreement is the part of a record every drive of a deployment shares: drives agree on
// the deployment when their keys are equal.
func (f *Format) agreement() string {
	b, _ := json.Marshal(struct {
		D, P string
		S    [][]string
	}{f.DeploymentID, f.PlacementKey, f.Sets})
	return string(b)
}

// driveIDField finds the drive id field in a record that no longer parses.
var driveIDField = regexp.MustCompile(`"driveID"\s*:\s*"([0-9a-f]{32})"`)

// salvageDriveID returns the drive id a damaged record still shows, or "": a hint to put
// a drive whose record was damaged back at its own position, where its shards are.
func salvageDriveID(b []byte) string {
	m := driveIDField.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}
