package journal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
)

// dir is the system-volume directory of the records.
const dir = storage.JournalDir

// Journal keeps intent records on the drives of one erasure set.
type Journal struct {
	drives []storage.Drive
	// quorum is the write quorum W of the set.
	quorum int
	now    func() time.Time
}

// New returns the journal on drives, whose writes need quorum of them.
func New(drives []storage.Drive, quorum int, now func() time.Time) (*Journal, error) {
	if len(drives) == 0 || quorum < 1 || quorum > len(drives) {
		return nil, fmt.Errorf("journal: write quorum %d of %d drives", quorum, len(drives))
	}
	if now == nil {
		now = time.Now
	}
	return &Journal{drives: drives, quorum: quorum, now: now}, nil
}

// Entry is a live record and its id.
type Entry struct {
	ID     string
	Record *Record
}

// each runs fn on every drive concurrently and returns the errors by position.
func (j *Journal) each(fn func(i int, d storage.Drive) error) []error {
	errs := make([]error, len(j.drives))
	var wg sync.WaitGroup
	for i, d := range j.drives {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, d)
		}()
	}
	wg.Wait()
	return errs
}

func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// NewID returns a new record id: the time, then random bytes.
func (j *Journal) NewID() string {
	var r [8]byte
	rand.Read(r[:]) // never fails (crypto/rand panics instead)
	return fmt.Sprintf("%016x%s", uint64(j.now().UnixNano()), hex.EncodeToString(r[:]))
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// Begin commits r durably and returns its id; the operation may start once it returns.
// ErrWriteQuorum (wrapping the drives' errors) when too few drives took it: then nothing
// of it is left that Pending would complete, and the operation must not start.
func (j *Journal) Begin(ctx context.Context, r *Record) (string, error) {
	id := j.NewID()
	return id, j.Write(ctx, id, r)
}

// Write is Begin with the id given (from NewID), for a caller that must know the id before
// the record exists.
func (j *Journal) Write(ctx context.Context, id string, r *Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	if !validID(id) {
		return fmt.Errorf("journal: invalid record id %q", id)
	}
	if r.Created.IsZero() {
		r.Created = j.now().UTC()
	}
	b := r.Marshal()
	// The drives of one file system sync their redo logs once for the record.
	batchCtx, _ := storage.BatchDrives(ctx, j.drives, nil) // every drive is called
	errs := j.each(func(_ int, d storage.Drive) error {
		return d.WriteFile(batchCtx, storage.SysVolume, dir+"/"+id, b)
	})
	if countNil(errs) < j.quorum {
		j.remove(context.WithoutCancel(ctx), id)
		return fmt.Errorf("%w: journal record: %w", objstore.ErrWriteQuorum, errors.Join(errs...))
	}
	return nil
}

// Done removes the record of a finished operation. ErrWriteQuorum when too few drives
// removed it: the record may then be completed again by a later Pending.
func (j *Journal) Done(ctx context.Context, id string) error {
	if errs := j.remove(ctx, id); countNil(errs) < j.quorum {
		return fmt.Errorf("%w: removing journal record %s: %w", objstore.ErrWriteQuorum, id, errors.Join(errs...))
	}
	return nil
}

// remove deletes the record from every drive; a drive without it counts as done.
func (j *Journal) remove(ctx context.Context, id string) []error {
	ctx, _ = storage.BatchDrives(ctx, j.drives, nil) // every drive is called
	return j.each(func(_ int, d storage.Drive) error {
		err := d.Delete(ctx, storage.SysVolume, dir+"/"+id, false)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		return err
	})
}

// Pending returns the live records, oldest first, removes the dead ones, and counts the
// undecided ones (see the package documentation). Records of a newer version or an unknown
// op are neither returned nor removed: they count as undecided. When fewer than a write
// quorum of drives answered, it returns what it found with ErrReadQuorum: live records
// may hide on the drives that did not answer.
func (j *Journal) Pending(ctx context.Context) (live []Entry, undecided int, err error) {
	ids, errs := j.list(ctx)
	answered := countNil(errs)
	n := len(j.drives)
	for _, id := range ids {
		rec, present, newer := j.read(ctx, id)
		switch {
		case newer:
			undecided++
		case present >= n-j.quorum+1:
			if rec.Check() != nil {
				undecided++
				continue
			}
			live = append(live, Entry{ID: id, Record: rec})
		case answered == n:
			if errs := j.remove(ctx, id); countNil(errs) < n {
				undecided++
			}
		default:
			undecided++
		}
	}
	if answered < j.quorum {
		return live, undecided, fmt.Errorf("%w: journal listed on %d of %d drives: %w", objstore.ErrReadQuorum, answered, n, errors.Join(errs...))
	}
	return live, undecided, nil
}

// Holds reports whether some drive holds a record of bucket that names key (Record.Touches),
// live or not, readable or of a newer version (which may name any key): so that no one
// takes a key for garbage while an operation that a record describes may still change it.
// Unlike Pending it removes nothing. With fewer than a write quorum of drives listed it
// reports true with ErrReadQuorum: a record may hide on the others.
func (j *Journal) Holds(ctx context.Context, bucket, key string) (bool, error) {
	ids, errs := j.list(ctx)
	if answered := countNil(errs); answered < j.quorum {
		return true, fmt.Errorf("%w: journal listed on %d of %d drives: %w", objstore.ErrReadQuorum, answered, len(j.drives), errors.Join(errs...))
	}
	for _, id := range ids {
		rec, _, newer := j.read(ctx, id)
		if newer || rec != nil && rec.Bucket == bucket && rec.Touches(key) {
			return true, nil
		}
	}
	return false, nil
}

// list returns the ids of the records any drive lists, oldest first, and each drive's
// error (nil for a drive with no journal directory).
func (j *Journal) list(ctx context.Context) ([]string, []error) {
	lists := make([][]string, len(j.drives))
	errs := j.each(func(i int, d storage.Drive) error {
		names, err := d.ListDir(ctx, storage.SysVolume, dir)
		if errors.Is(err, storage.ErrFileNotFound) {
			return nil
		}
		lists[i] = names
		return err
	})
	seen := map[string]bool{}
	var ids []string
	for _, names := range lists {
		for _, name := range names {
			if validID(name) && !seen[name] {
				seen[name] = true
				ids = append(ids, name)
			}
		}
	}
	sort.Strings(ids)
	return ids, errs
}

// read returns the record id as the drives hold it, and on how many drives a readable copy
// of it is; newer reports a copy of a newer version than this binary reads.
func (j *Journal) read(ctx context.Context, id string) (rec *Record, present int, newer bool) {
	recs := make([]*Record, len(j.drives))
	errs := j.each(func(i int, d storage.Drive) error {
		b, err := d.ReadFile(ctx, storage.SysVolume, dir+"/"+id)
		if err != nil {
			return err
		}
		recs[i], err = Unmarshal(b)
		return err
	})
	for i, err := range errs {
		if errors.Is(err, ErrNewerVersion) {
			newer = true
		}
		if err == nil {
			present++
			if rec == nil {
				rec = recs[i]
			}
		}
	}
	return rec, present, newer
}
