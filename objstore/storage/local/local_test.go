package local_test

import (
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		d, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestConformanceRedoLog runs the suite on drives whose small commits go through a redo
// log (a small one, so that the suite's commits fill it and checkpoint).
func TestConformanceRedoLog(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		d, err := local.Open(t.TempDir(), local.Options{RedoLog: true, RedoLogSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
