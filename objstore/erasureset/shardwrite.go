package erasureset

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
)

// shardFiles streams shards into files of the system volume, one per drive, through pipes:
// the codec writes shard i to writers[i]; each drive's CreateFile reads its pipe.
type shardFiles struct {
	// writers is indexed by shard, for the codec; nil for drives not written.
	writers []io.Writer
	pipes   []*io.PipeWriter
	// errs[i] is drive i's CreateFile outcome, valid after finish (after done[i] is
	// closed for a drive finishHedged left running).
	errs []error
	// done[i] is closed when drive i's CreateFile has returned; ended receives i then.
	done  []chan struct{}
	ended chan int
	// late marks the drives finishHedged did not wait for.
	late []bool
	wg   sync.WaitGroup
}

// createShardFiles starts a CreateFile of path, of size bytes (-1 unknown), on every drive
// marked in which (all when which is nil); dist maps drives to the shards they hold.
func (s *Set) createShardFiles(ctx context.Context, which []bool, dist []uint8, path string, size int64) *shardFiles {
	n := len(s.drives)
	sf := &shardFiles{
		writers: make([]io.Writer, n),
		pipes:   make([]*io.PipeWriter, n),
		errs:    make([]error, n),
		done:    make([]chan struct{}, n),
		ended:   make(chan int, n),
		late:    make([]bool, n),
	}
	for i, d := range s.drives {
		sf.done[i] = make(chan struct{})
		if which != nil && !which[i] {
			sf.errs[i] = errSkipped
			close(sf.done[i])
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
			close(sf.done[i])
			sf.ended <- i
		}()
	}
	return sf
}

// closePipes ends every stream: with codecErr, if the codec failed, so that the drives
// discard their partial files.
func (sf *shardFiles) closePipes(codecErr error) {
	for _, pw := range sf.pipes {
		switch {
		case pw == nil:
		case codecErr != nil:
			pw.CloseWithError(codecErr)
		default:
			pw.Close()
		}
	}
}

// finishHedged is finish, but once quorum drives have their file and only drives slow
// marks are still writing, it waits for those only as long as the others took plus
// slowMargin, and leaves them running: late[i] marks them, and wait(i) waits for one. The
// codec's error, if any, makes it wait for every drive.
func (sf *shardFiles) finishHedged(codecErr error, slow uint32, quorum int) {
	began := time.Now()
	sf.closePipes(codecErr)
	var pending uint32
	for i, pw := range sf.pipes {
		if pw != nil {
			pending |= 1 << i
		}
	}
	if codecErr != nil || pending&slow == 0 {
		sf.wg.Wait()
		return
	}
	left := awaitHedged(sf.ended, func(i int) (int, bool) { return i, sf.errs[i] == nil }, pending, slow, quorum, began)
	for i := range sf.late {
		sf.late[i] = left&(1<<i) != 0
	}
}

// wait returns drive i's CreateFile outcome once it has one.
func (sf *shardFiles) wait(i int) error {
	<-sf.done[i]
	return sf.errs[i]
}

// finish ends every stream (with codecErr, if the codec failed, so that the drives discard
// their partial files) and waits for the drives; errs is valid then.
func (sf *shardFiles) finish(codecErr error) {
	sf.closePipes(codecErr)
	sf.wg.Wait()
}
