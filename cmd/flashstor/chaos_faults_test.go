package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A fault the injector applies from outside the server: to the drive directories, or to
// the server process. Each is undone (if it can be) before the next one.
type chaosFault struct {
	name string
	// tmpfs: the fault needs the drive on its own file system (the last drive).
	tmpfs bool
	// damage: the fault loses data on the drive, which only a heal restores.
	damage bool
	// apply does it to drive dir and returns how to undo it (nil: nothing to undo) or why
	// it could not be applied (the fault is then not counted).
	apply func(c *chaos, dir string, r *rand.Rand) (undo func() error, err error)
}

var chaosFaults = []chaosFault{
	{name: "corrupt-shards", damage: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		return nil, flipFiles(r, dir, func(p string) bool { return strings.Contains(filepath.Base(p), "part.") })
	}},
	{name: "corrupt-metadata", damage: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		return nil, flipFiles(r, dir, func(p string) bool { return strings.HasSuffix(p, "%m") })
	}},
	{name: "delete-metadata", damage: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		files := filesUnder(filepath.Join(dir, chaosBucket), func(p string) bool { return strings.HasSuffix(p, "%m") })
		if len(files) == 0 {
			return nil, errors.New("no metadata yet")
		}
		for _, p := range pick(r, files, 3) {
			os.Remove(p)
		}
		return nil, nil
	}},
	{name: "wipe-drive", damage: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		// A name of its own for each wipe: the removal of the old content may fail (the
		// server may still be creating files in it) and must not stop the next wipe.
		gone := fmt.Sprintf("%s.wiped-%d", dir, c.seq.Add(1))
		if err := os.Rename(dir, gone); err != nil {
			return nil, err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		// The drive is wiped whatever the removal does: the fault counts as applied.
		if err := os.RemoveAll(gone); err != nil {
			c.t.Logf("removing the wiped content of %s: %v", dir, err)
		}
		return nil, nil
	}},
	{name: "unmount-drive", apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		if err := os.Rename(dir, dir+".away"); err != nil {
			return nil, err
		}
		return func() error {
			if _, err := os.Stat(dir); err == nil {
				return fmt.Errorf("%s was created again while its disk was away", dir)
			}
			return os.Rename(dir+".away", dir)
		}, nil
	}},
	{name: "fill-drive", tmpfs: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		return fillUp(dir)
	}},
	{name: "read-only-drive", tmpfs: true, apply: func(c *chaos, dir string, r *rand.Rand) (func() error, error) {
		// EBUSY while the server has a file open for writing: a few tries, 100 ms apart.
		var err error
		for range 20 {
			if err = unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return nil, fmt.Errorf("remounting %s read-only: %w", dir, err)
		}
		return func() error { return unix.Mount("", dir, "", unix.MS_REMOUNT, "") }, nil
	}},
}

// flipFiles flips 16 bytes in the middle of up to 3 files of the chaos bucket under dir
// that match.
func flipFiles(r *rand.Rand, dir string, match func(string) bool) error {
	files := filesUnder(filepath.Join(dir, chaosBucket), match)
	if len(files) == 0 {
		return errors.New("no such file yet")
	}
	for _, p := range pick(r, files, 3) {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		for i := len(b) / 2; i < len(b)/2+16 && i < len(b); i++ {
			b[i] ^= 0x5a
		}
		os.WriteFile(p, b, 0o644)
	}
	return nil
}

// pick returns up to n of list, at random.
func pick(r *rand.Rand, list []string, n int) []string {
	r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	return list[:min(n, len(list))]
}

// injectFaults applies a random fault every 1-3 s until stop is closed: one of chaosFaults,
// held 1-3 s and undone, or a kill -9 of the server followed by an offline heal and a
// restart. Between two heals, faults impair at most parity (2) drives, so that every
// acknowledged write stays readable: past that, losing data would be the test's doing. A
// wipe counts twice: it loses what the drive knew of deletes too, and a delete made while
// another drive was impaired is then undecidable (2 drives against 2).
func (c *chaos) injectFaults(stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(c.seed, 7))
	// impaired holds the units of the parity budget each drive used since the last heal.
	impaired := make(map[int]int)
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(1000+r.IntN(2000)) * time.Millisecond):
		}
		if r.IntN(6) == 0 {
			c.killAndRestart()
			clear(impaired)
			continue
		}
		f := chaosFaults[r.IntN(len(chaosFaults))]
		drive := len(c.drives) - 1
		if !f.tmpfs {
			drive = r.IntN(len(c.drives) - 1)
		}
		cost, used := 1, 0
		if f.name == "wipe-drive" {
			cost = 2
		}
		for _, u := range impaired {
			used += u
		}
		if used-impaired[drive]+max(impaired[drive], cost) > 2 {
			// The budget is spent: heal (through a kill) before more damage.
			c.killAndRestart()
			clear(impaired)
			continue
		}
		undo, err := f.apply(c, c.drives[drive], r)
		if err != nil {
			c.count(&c.faultsSkipped, f.name)
			c.mu.Lock()
			if c.skipReasons == nil {
				c.skipReasons = make(map[string]string)
			}
			c.skipReasons[f.name] = err.Error()
			c.mu.Unlock()
			continue
		}
		impaired[drive] = max(impaired[drive], cost)
		c.count(&c.faults, f.name)
		c.t.Logf("%s: %s on %s", time.Now().Format("15:04:05.000"), f.name, filepath.Base(c.drives[drive]))
		if undo == nil {
			continue
		}
		select {
		case <-stop:
		case <-time.After(time.Duration(1000+r.IntN(2000)) * time.Millisecond):
		}
		if err := undo(); err != nil {
			c.t.Errorf("undoing %s on %s: %v", f.name, c.drives[drive], err)
		}
	}
}

// killAndRestart kills the server with SIGKILL, heals the stopped deployment with
// "flashstor heal" (which also proves that the kill left it healable) and starts it again.
func (c *chaos) killAndRestart() {
	c.up.Store(false)
	c.gen.Add(1)
	c.srv.stop(syscall.SIGKILL)
	c.count(&c.faults, "kill-9")
	c.t.Logf("%s: kill-9, heal, restart", time.Now().Format("15:04:05.000"))
	c.heal()
	c.srv.start()
	c.up.Store(true)
}
