package deploy_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/journal"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// Single-object renames cut by a crash. In a set of 16 drives with 12+4, a rename within
// the set that stops after some drives leaves the object on fewer than k = 12 drives under
// each key; without the rename-key intent a heal found both keys dangling and removed the
// object.

const (
	renameDrives = 16
	renameParity = 4
	renameSrc    = "dir/src.bin"
	renameDst    = "dir/dst.bin"
)

func renameConfig(dir string) deploy.Config {
	return deploy.Config{Drives: []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", renameDrives))}, Parity: renameParity}
}

// renameConfigRedo is renameConfig, the drives with redo logs when redo.
func renameConfigRedo(dir string, redo bool) deploy.Config {
	cfg := renameConfig(dir)
	cfg.DriveOptions = local.Options{RedoLog: redo, RedoLogSize: crashRedoLogSize}
	return cfg
}

// renameCrashChild renames renameSrc to renameDst and dies (os.Exit, as kill -9 would:
// no deferred cleanup) when CRASH_AFTER drives have passed the failpoint CRASH_STEP
// (rename:object when empty); with CRASH_AFTER below zero, once every drive has reached
// it, none passing (the others wait, a minute at most). The drives have redo logs with
// CRASH_REDO.
func renameCrashChild() int {
	after, _ := strconv.Atoi(os.Getenv("CRASH_AFTER"))
	step := cmp.Or(os.Getenv("CRASH_STEP"), "rename:object")
	var passed atomic.Int32
	cfg := renameConfigRedo(os.Getenv("CRASH_DIR"), os.Getenv("CRASH_REDO") != "")
	cfg.DriveOptions.Failpoint = func(s string) error {
		if s != step {
			return nil
		}
		n := int(passed.Add(1))
		switch {
		case after >= 0 && n > after, after < 0 && n == renameDrives:
			os.Exit(3)
		case after < 0:
			time.Sleep(time.Minute)
			return fmt.Errorf("%d of %d drives reached %s", passed.Load(), renameDrives, step)
		}
		return nil
	}
	d, err := deploy.Open(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := d.RenameObject(context.Background(), "bkt", renameSrc, renameDst, objstore.RenameOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		return 2
	}
	return 0
}

// readWhole reads key whole, or returns its error.
func readWhole(ctx context.Context, l objstore.ObjectLayer, key string) ([]byte, error) {
	h, err := l.OpenObject(ctx, "bkt", key)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
}

// checkRenamed checks that exactly one of the keys holds content, byte for byte, and the
// other is not found; it returns the key that holds it.
func checkRenamed(t *testing.T, l objstore.ObjectLayer, content, replaced []byte) string {
	t.Helper()
	ctx := context.Background()
	src, srcErr := readWhole(ctx, l, renameSrc)
	dst, dstErr := readWhole(ctx, l, renameDst)
	switch {
	case srcErr == nil && bytes.Equal(src, content) && errors.Is(dstErr, objstore.ErrObjectNotFound) && replaced == nil:
		return renameSrc
	case srcErr == nil && bytes.Equal(src, content) && dstErr == nil && bytes.Equal(dst, replaced):
		return renameSrc
	case dstErr == nil && bytes.Equal(dst, content) && errors.Is(srcErr, objstore.ErrObjectNotFound):
		return renameDst
	}
	t.Fatalf("after the crash: %s reads %d bytes (%v), %s %d bytes (%v); want the object (%d bytes) whole under exactly one name",
		renameSrc, len(src), srcErr, renameDst, len(dst), dstErr, len(content))
	return ""
}

// TestRenameKeyCrash kills a rename within a 12+4 set after 0, 1, 8 and 15 of its 16
// drives renamed the object (onto nothing, and onto an older object at the destination),
// reopens the drives and heals everything: the object must be whole, byte for byte, under
// exactly one name (the new one: the intent was committed before any drive renamed), and
// the journal empty.
//
// The redo/ cases run on drives with redo logs, where a drive's rename is a record in its
// log, then the tree's rename without syncs; rename:logged is the instant between the two.
// There the intent too is a record in each drive's log, then the file's write into the
// tree (write:logged between the two): cut there on every drive (all), the intent is on
// no drive's tree, and only the logs' redo at the reopen brings it back for the recovery.
// The intent-unwritten cases cut the rename after 8 drives renamed, then take the intent
// out of every drive's tree, as a crash of the machine may (its write into the tree is
// not synced): the object is on 8 drives under each key, and only the intent redone from
// the logs completes the rename.
func TestRenameKeyCrash(t *testing.T) {
	for _, replace := range []bool{false, true} {
		for _, after := range []int{0, 1, 8, 15} {
			t.Run(fmt.Sprintf("replace=%v/after%d", replace, after), func(t *testing.T) {
				renameCrashCase(t, replace, after, "", false, nil)
			})
		}
	}
	for _, step := range []string{"rename:object", "rename:logged"} {
		for _, replace := range []bool{false, true} {
			for _, after := range []int{0, 8} {
				t.Run(fmt.Sprintf("redo/%s/replace=%v/after%d", step, replace, after), func(t *testing.T) {
					renameCrashCase(t, replace, after, step, true, nil)
				})
			}
		}
	}
	for _, replace := range []bool{false, true} {
		for _, after := range []int{-1, 8} {
			name := fmt.Sprintf("redo/write:logged/replace=%v/after%d", replace, after)
			if after < 0 {
				name = fmt.Sprintf("redo/write:logged/replace=%v/all", replace)
			}
			t.Run(name, func(t *testing.T) {
				renameCrashCase(t, replace, after, "write:logged", true, nil)
			})
		}
		t.Run(fmt.Sprintf("redo/rename:object/replace=%v/after8/intent-unwritten", replace), func(t *testing.T) {
			renameCrashCase(t, replace, 8, "rename:object", true, takeOutIntents)
		})
	}
}

// renameCrashCase runs one case of TestRenameKeyCrash; afterCrash, if set, changes the
// drives (in dir) as the crash may have left them, before the reopen.
func renameCrashCase(t *testing.T, replace bool, after int, step string, redo bool, afterCrash func(t *testing.T, dir string)) {
	dir, content, replaced := renameCrash(t, replace, after, step, redo)
	if afterCrash != nil {
		afterCrash(t, dir)
	}
	d := reopenHealed(t, dir, redo)
	if got := checkRenamed(t, d, content, replaced); got != renameDst {
		t.Fatalf("the object is at %s: the committed intent should have completed the rename", got)
	}
	if live, undecided, err := d.Pool.RecoverJournal(context.Background()); live != 0 || undecided != 0 || err != nil {
		t.Fatalf("journal after the reopen: %d completed, %d undecided, %v", live, undecided, err)
	}
}

// renameCrash puts the object renameSrc (and an older one at renameDst with replace) in a
// new deployment and runs the child that renames it and dies at step (renameCrashChild).
// It returns the deployment's directory, the object's bytes and the replaced one's.
func renameCrash(t *testing.T, replace bool, after int, step string, redo bool) (dir string, content, replaced []byte) {
	c := context.Background()
	dir = t.TempDir()
	d, err := deploy.Open(c, renameConfigRedo(dir, redo))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sets()) != 1 {
		t.Fatalf("%d sets, want one of %d drives", len(d.Sets()), renameDrives)
	}
	if k, m := d.Sets()[0].Geometry(); k <= m+1 {
		t.Fatalf("geometry %d+%d: the test needs k > m+1, where a half-renamed object is readable under neither key", k, m)
	}
	if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	content = randomBytes(300<<10+7, 5) // not inline: metadata and a data directory
	if _, err := d.PutObject(c, "bkt", renameSrc, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if replace {
		replaced = randomBytes(1000, 6)
		if _, err := d.PutObject(c, "bkt", renameDst, bytes.NewReader(replaced), int64(len(replaced)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()

	ctx, cancel := context.WithTimeout(c, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"=1", "CRASH_OP=rename", "CRASH_DIR="+dir, "CRASH_AFTER="+strconv.Itoa(after), "CRASH_STEP="+step)
	if redo {
		cmd.Env = append(cmd.Env, "CRASH_REDO=1")
	}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("the child did not die at the rename's failpoint (%v, exit %d): %s", err, code, out)
	}
	return dir, content, replaced
}

// reopenHealed opens the deployment in dir again (its journal recovered) and heals both
// keys and the whole set; it is closed at the test's end.
func reopenHealed(t *testing.T, dir string, redo bool) *deploy.Deployment {
	t.Helper()
	c := context.Background()
	d, err := deploy.Open(c, renameConfigRedo(dir, redo))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, key := range []string{renameSrc, renameDst} {
		if _, err := d.Sets()[0].HealObject(c, "bkt", key, true); err != nil {
			t.Fatalf("healing %s: %v", key, err)
		}
	}
	if err := d.Sets()[0].HealAll(c, true, func(erasureset.HealResult) {}); err != nil {
		t.Fatalf("heal after the crash: %v", err)
	}
	return d
}

// takeOutIntents removes the journal's records from every drive's tree in dir, as a
// crash of the machine before their unsynced write into the tree reached the disk leaves
// them on drives with redo logs (without, they are synced files, which no crash takes
// out).
func takeOutIntents(t *testing.T, dir string) {
	t.Helper()
	intents, err := filepath.Glob(filepath.Join(dir, "d*", storage.SysVolume, storage.JournalDir, "*"))
	if err != nil || len(intents) != renameDrives {
		t.Fatalf("the intent on %d drives (%v), want %d", len(intents), err, renameDrives)
	}
	for _, p := range intents {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHealLeavesIntentKeys leaves the state of a rename within a 12+4 set cut after half
// its drives, its intent committed, in a running deployment (the recovery has not run):
// healing either key must not take it for dangling and remove it; the recovery then
// completes the rename.
func TestHealLeavesIntentKeys(t *testing.T) {
	c := context.Background()
	d := openDeploymentCfg(t, renameConfig(t.TempDir()))
	defer d.Close()
	if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	content := randomBytes(200<<10, 7)
	if _, err := d.PutObject(c, "bkt", renameSrc, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	beginIntent(t, d, &journal.Record{Op: journal.OpRenameKey, Bucket: "bkt", Src: renameSrc, Dst: renameDst})
	s := d.Sets()[0]
	drives := s.Drives()
	for _, dr := range drives[:len(drives)/2] {
		if err := dr.RenameObject(c, "bkt", renameSrc, renameDst); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{renameSrc, renameDst} {
		res, err := s.HealObject(c, "bkt", key, true)
		if err != nil || res.Dangling {
			t.Fatalf("healing %s, named by a pending intent: %+v, %v; want it left alone", key, res, err)
		}
	}
	if err := s.HealAll(c, true, func(erasureset.HealResult) {}); err != nil {
		t.Fatal(err)
	}
	if done, undecided, err := d.Pool.RecoverJournal(c); done != 1 || undecided != 0 || err != nil {
		t.Fatalf("recovery: %d completed, %d undecided, %v; want 1 completed", done, undecided, err)
	}
	if got := checkRenamed(t, d, content, nil); got != renameDst {
		t.Fatalf("the object is at %s after the recovery, want %s", got, renameDst)
	}
	// Without an intent, a key on too few drives to read is dangling, as before.
	for _, dr := range drives[:3] {
		if err := dr.RenameObject(c, "bkt", renameDst, "dir/stray"); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := s.HealObject(c, "bkt", "dir/stray", false); err != nil || !res.Dangling {
		t.Fatalf("healing a stray copy no intent names: %+v, %v; want it removed as dangling", res, err)
	}
}

func openDeploymentCfg(t *testing.T, cfg deploy.Config) *deploy.Deployment {
	t.Helper()
	d, err := deploy.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRenameKeyAcrossRecovered leaves the states a crash leaves in a rename across sets,
// its intent committed, and reopens: nothing copied yet (the rename completes); the copy
// committed but the source not removed (the source goes, the copy stays); with NoReplace,
// a destination that is no copy of the source (the rename is refused, both stay).
func TestRenameKeyAcrossRecovered(t *testing.T) {
	for _, state := range []string{"nothing copied", "copy committed", "no-replace refused"} {
		t.Run(state, func(t *testing.T) {
			c := context.Background()
			cfg := deploy.Config{Drives: []string{filepath.Join(t.TempDir(), "d{1...20}")}, Parity: -1}
			d := openDeploymentCfg(t, cfg)
			if len(d.Sets()) < 2 {
				t.Fatalf("%d sets, want several", len(d.Sets()))
			}
			if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			src := "a/src"
			dst := keyInOtherSet(t, d, src, "b/dst")
			content := randomBytes(150<<10, 8)
			info, err := d.PutObject(c, "bkt", src, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{Metadata: map[string]string{"x-amz-meta-k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			other := randomBytes(5000, 9)
			switch state {
			case "copy committed":
				if _, err := d.PutObject(c, "bkt", dst, bytes.NewReader(content), int64(len(content)), objstore.PutOptions{Metadata: info.Metadata, ModTime: info.ModTime}); err != nil {
					t.Fatal(err)
				}
			case "no-replace refused":
				if _, err := d.PutObject(c, "bkt", dst, bytes.NewReader(other), int64(len(other)), objstore.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			j := beginIntent(t, d, &journal.Record{Op: journal.OpRenameKey, Bucket: "bkt", Src: src, Dst: dst, NoReplace: state == "no-replace refused"})
			d.Close()
			d = openDeploymentCfg(t, cfg)
			defer d.Close()
			gotSrc, srcErr := readWhole(c, d, src)
			gotDst, dstErr := readWhole(c, d, dst)
			if state == "no-replace refused" {
				if srcErr != nil || !bytes.Equal(gotSrc, content) || dstErr != nil || !bytes.Equal(gotDst, other) {
					t.Fatalf("src %d bytes (%v), dst %d bytes (%v): want both as they were", len(gotSrc), srcErr, len(gotDst), dstErr)
				}
			} else if !errors.Is(srcErr, objstore.ErrObjectNotFound) || dstErr != nil || !bytes.Equal(gotDst, content) {
				t.Fatalf("src %d bytes (%v), dst %d bytes (%v): want the object at dst only", len(gotSrc), srcErr, len(gotDst), dstErr)
			}
			if live, undecided, err := j.Pending(c); len(live) != 0 || undecided != 0 || err != nil {
				t.Fatalf("journal after the reopen: %d live, %d undecided, %v", len(live), undecided, err)
			}
		})
	}
}

// beginIntent commits rec to d's journal, as an operation does before it starts, and
// returns the journal.
func beginIntent(t *testing.T, d *deploy.Deployment, rec *journal.Record) *journal.Journal {
	t.Helper()
	s := d.Sets()[0]
	k, m := s.Geometry()
	j, err := journal.New(s.Drives(), erasureset.WriteQuorum(k, m), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Begin(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return j
}

// keyInOtherSet returns a key prefix+N that d places in another set than key.
func keyInOtherSet(t *testing.T, d *deploy.Deployment, key, prefix string) string {
	t.Helper()
	for i := range 100 {
		if k := fmt.Sprintf("%s%d", prefix, i); d.SetIndex(k) != d.SetIndex(key) {
			return k
		}
	}
	t.Fatalf("no key %s<N> in another set than %s among 100", prefix, key)
	return ""
}

// TestRenameKeyFinishedIntentLeft: a rename that finished, whose intent's removal a crash
// lost (a removal is not synced), and whose source key was written again after it: the
// recovery must see, by the source version the intent names, that the object now at the
// source is a later one, and leave both keys alone (before, it renamed the new object over
// the renamed one). Within a set and across sets.
func TestRenameKeyFinishedIntentLeft(t *testing.T) {
	for _, across := range []bool{false, true} {
		t.Run(fmt.Sprintf("across=%v", across), func(t *testing.T) {
			c := context.Background()
			cfg := deploy.Config{Drives: []string{filepath.Join(t.TempDir(), "d{1...20}")}, Parity: -1}
			d := openDeploymentCfg(t, cfg)
			if err := d.MakeBucket(c, "bkt", objstore.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			src := "a/src"
			dst := keyInOtherSet(t, d, src, "b/dst")
			if !across {
				dst = keyInSameSet(t, d, src, "b/dst")
			}
			first, later := randomBytes(150<<10, 10), randomBytes(3000, 11)
			if _, err := d.PutObject(c, "bkt", src, bytes.NewReader(first), int64(len(first)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			v, err := d.Sets()[d.SetIndex(src)].VersionID(c, "bkt", src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.RenameObject(c, "bkt", src, dst, objstore.RenameOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.PutObject(c, "bkt", src, bytes.NewReader(later), int64(len(later)), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			// The rename's intent as it wrote it, back as if its removal had been lost.
			j := beginIntent(t, d, &journal.Record{Op: journal.OpRenameKey, Bucket: "bkt", Src: src, Dst: dst, SrcVersion: hex.EncodeToString(v[:])})
			d.Close()
			d = openDeploymentCfg(t, cfg)
			defer d.Close()
			gotSrc, srcErr := readWhole(c, d, src)
			gotDst, dstErr := readWhole(c, d, dst)
			if srcErr != nil || !bytes.Equal(gotSrc, later) || dstErr != nil || !bytes.Equal(gotDst, first) {
				t.Fatalf("src %d bytes (%v), dst %d bytes (%v): want the later object at src (%d bytes), the renamed one at dst (%d)",
					len(gotSrc), srcErr, len(gotDst), dstErr, len(later), len(first))
			}
			if live, undecided, err := j.Pending(c); len(live) != 0 || undecided != 0 || err != nil {
				t.Fatalf("journal after the reopen: %d live, %d undecided, %v", len(live), undecided, err)
			}
		})
	}
}

// keyInSameSet returns a key prefix<N> in the set of key.
func keyInSameSet(t *testing.T, d *deploy.Deployment, key, prefix string) string {
	t.Helper()
	for i := range 200 {
		if k := fmt.Sprintf("%s%d", prefix, i); d.SetIndex(k) == d.SetIndex(key) {
			return k
		}
	}
	t.Fatalf("no key %s<N> in the set of %s among 200", prefix, key)
	return ""
}
