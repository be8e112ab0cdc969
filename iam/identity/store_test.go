package identity_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/identity/identitytest"
	"github.com/flashstor/flashstor/objstore/deploy"
)

func TestMemory(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) (identity.Store, func() identity.Store) {
		s := &identity.Memory{}
		return s, func() identity.Store { return s }
	})
}

// TestObjectStore runs the suite on the system area of a real 4-drive object layer; the
// reopen opens the drives again as a restarted server does.
func TestObjectStore(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) (identity.Store, func() identity.Store) {
		dir := t.TempDir()
		open := func() identity.Store {
			dep, err := deploy.Open(context.Background(), deploy.Config{
				Drives: []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", 4))},
				Parity: -1,
				Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dep.Close)
			return identity.NewObjectStore(dep, "iam")
		}
		return open(), open
	})
}
