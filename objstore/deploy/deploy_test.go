package deploy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/objtest"
)

// open returns a new deployment of n drives in a temporary directory.
func open(t *testing.T, n, parity int) *deploy.Deployment {
	t.Helper()
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", n))},
		Parity: parity,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestObjectLayer(t *testing.T) {
	layouts := []struct {
		name           string
		drives, parity int
	}{
		{"1drive", 1, -1},
		{"4drives", 4, -1},
		{"16drives", 16, -1},
		{"2sets", 32, -1},
	}
	for _, lt := range layouts {
		t.Run(lt.name, func(t *testing.T) {
			if testing.Short() && lt.drives > 4 {
				t.Skip("many-drive layouts skipped in -short")
			}
			objtest.Run(t, func(t *testing.T) objstore.ObjectLayer { return open(t, lt.drives, lt.parity) })
		})
	}
}
