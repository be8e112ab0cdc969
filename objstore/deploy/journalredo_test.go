package deploy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
)

// hideRedoVersion3 makes every drive's redo log in dir read as a binary from before
// record version 3 reads it: each version 3 record (a journal record's write or removal)
// gets a version that binary does not know, its header checksum fixed, so that it is
// skipped as torn (objstore/storage/local, redoformat.go). The layout is redolog.go's:
// blocks of 4096 bytes, a record starting with its magic, its version and, at 44, the
// CRC-32C of its first 44 bytes.
func hideRedoVersion3(t *testing.T, dir string) int {
	t.Helper()
	const block, magic = 4096, 0x46535252
	crc := crc32.MakeTable(crc32.Castagnoli)
	logs, err := filepath.Glob(filepath.Join(dir, "d*", storage.SysVolume, "redo.log"))
	if err != nil || len(logs) != renameDrives {
		t.Fatalf("%d redo logs (%v), want %d", len(logs), err, renameDrives)
	}
	hidden := 0
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := block; off+48 <= len(b); off += block {
			if binary.LittleEndian.Uint32(b[off:]) == magic && binary.LittleEndian.Uint32(b[off+4:]) == 3 {
				binary.LittleEndian.PutUint32(b[off+4:], 99)
				binary.LittleEndian.PutUint32(b[off+44:], crc32.Checksum(b[off:off+44], crc))
				hidden++
			}
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return hidden
}

// TestRenameKeyCrashOlderReaderLosesObject writes down the one case found where a logged
// intent is less safe than the synced file it replaced: a rename within a 12+4 set cut
// after 8 drives renamed the object, a crash of the machine that lost the intent's
// unsynced write into every drive's tree, then a binary from before record version 3
// opening the drives. That binary skips the intent's records, so no drive holds the
// intent; the object is on 8 drives under each key, fewer than k = 12, and the heal
// removes both as dangling: the object is lost. The same crash opened by this binary
// completes the rename (TestRenameKeyCrash, intent-unwritten cases); so does any start of
// a binary of version 3 or later before the older one, and any clean stop. The test
// checks the loss: it fails the day an older reader no longer loses the object.
func TestRenameKeyCrashOlderReaderLosesObject(t *testing.T) {
	dir, _, _ := renameCrash(t, false, 8, "rename:object", true)
	takeOutIntents(t, dir)
	if n := hideRedoVersion3(t, dir); n < renameDrives {
		t.Fatalf("%d version 3 records in the logs, want at least one per drive (%d)", n, renameDrives)
	}
	d := reopenHealed(t, dir, true)
	c := context.Background()
	for _, key := range []string{renameSrc, renameDst} {
		if _, err := readWhole(c, d, key); !errors.Is(err, objstore.ErrObjectNotFound) {
			t.Fatalf("%s read by a binary before record version 3: %v; want the object lost (ErrObjectNotFound)", key, err)
		}
	}
}
