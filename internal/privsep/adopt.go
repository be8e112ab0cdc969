//go:build linux

package privsep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// adopt hands the entries under each path that root owns to id: what this process
// created as root before the drop (a fresh drive's system folder, the audit file) must be
// the run user's to write. Entries of other owners are left alone, and so are the trees of
// directories root does not own (what the run user created is already its own), so that a
// drive adopted once is not walked again at every start. Symbolic links are not followed.
// A path that does not exist is skipped.
func adopt(id ident, paths []string) error {
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			switch {
			case !ok:
				return nil
			case st.Uid != 0 && d.IsDir():
				return filepath.SkipDir
			case st.Uid != 0:
				return nil
			}
			return os.Lchown(path, id.uid, id.gid)
		})
		if err != nil {
			return fmt.Errorf("privsep: giving %s to %s: %w", root, id, err)
		}
	}
	return nil
}
