package deploy_test

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/flashstor/flashstor/objstore/storage"
)

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// gate holds the first call of an armed drive method until released.
type gate struct {
	mu sync.Mutex
	// method is the armed method, "" when none; guarded by mu.
	method           string
	entered, release chan struct{}
}

// arm makes the next call of method wait for release, and returns the channel closed when
// that call has begun.
func (g *gate) arm(method string) (entered <-chan struct{}, release chan<- struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.method, g.entered, g.release = method, make(chan struct{}), make(chan struct{})
	return g.entered, g.release
}

func (g *gate) wait(method string) {
	g.mu.Lock()
	armed := g.method == method
	entered, release := g.entered, g.release
	if armed {
		g.method = ""
	}
	g.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
}

// gatedDrive is a drive whose commits of objects, renames of files and file creations
// pass its gate.
type gatedDrive struct {
	storage.Drive
	g *gate
}

func (d gatedDrive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	d.g.wait("CommitObject")
	return d.Drive.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

func (d gatedDrive) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	d.g.wait("RenameFile")
	return d.Drive.RenameFile(ctx, srcVolume, srcPath, dstVolume, dstPath)
}

func (d gatedDrive) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	d.g.wait("CreateFile")
	return d.Drive.CreateFile(ctx, volume, path, size, r)
}
