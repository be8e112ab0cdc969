package erasureset

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/flashstor/flashstor/objstore/storage"
)

// shardFiles streams shards into files of the system volume, one per drive, through pipes:
// the codec writes shard i to writers[i]; each drive's CreateFile reads its pipe.
type shardFiles struct {
	// writers is indexed by shard, for the codec; nil for drives not written.
	writers []io.Writer
	pipes   []*io.PipeWriter
	// errs[i] is drive i's CreateFile outcome, valid after finish.
	errs []error
	wg   sync.WaitGroup
}

// createShardFiles starts a CreateFile of path, of size bytes (-1 unknown), on every drive
// marked in which (all when which is nil); dist maps drives to the shards they hold.
func (s *Set) createShardFiles(ctx context.Context, which []bool, dist []uint8, path string, size int64) *shardFiles {
	sf := &shardFiles{
		writers: make([]io.Writer, len(s.drives)),
		pipes:   make([]*io.PipeWriter, len(s.drives)),
		errs:    make([]error, len(s.drives)),
	}
	for i, d := range s.drives {
		if which != nil && !which[i] {
			sf.errs[i] = errSkipped
			continue
		}
		pr, pw := io.Pipe()
		sf.pipes[i] = pw
		sf.writers[dist[i]] = pw
		sf.wg.Add(1)
		go func() {
			defer sf.wg.Done()
			err := d.CreateFile(ctx, storage.SysVolume, path, size, pr)
			sf.errs[i] = err
			// A drive that failed stops consuming: make the codec's writes to it fail.
			pr.CloseWithError(fmt.Errorf("drive %s: %w", d, errOr(err, errDriveDone)))
		}()
	}
	return sf
}

// finish ends every stream (with codecErr, if the codec failed, so that the drives discard
// their partial files) and waits for the drives; errs is valid then.
func (sf *shardFiles) finish(codecErr error) {
	for _, pw := range sf.pipes {
		switch {
		case pw == nil:
		case codecErr != nil:
			pw.CloseWithError(codecErr)
		default:
			pw.Close()
		}
	}
	sf.wg.Wait()
}
