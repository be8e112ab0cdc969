package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
)

// runHealing runs the fixture's background healing with a fast format check until the
// returned stop is called (or the test ends).
func (f *fixture) runHealing() (stop func()) {
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.d.RunHealing(c, deploy.HealingOptions{ScanInterval: -1, FormatCheckInterval: 20 * time.Millisecond})
	}()
	stop = func() { cancel(); <-done }
	f.t.Cleanup(stop)
	return stop
}

// waitUntil polls cond every 10 ms for at most a minute (a bound against a hang, not a
// measure of speed).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after a minute: %s", what)
		}
	}
}

// outFor returns why drive is out of service, 0 while it serves.
func outFor(d *deploy.Deployment, drive string) format.Reason {
	for _, o := range d.LeftOut() {
		if o.Drive == drive {
			return o.Reason
		}
	}
	return 0
}

// checkHealed stops the healing, heals deeply, and reads everything back after wiping two
// drives other than bad: bad must hold its full share again.
func (f *fixture) checkHealed(stop func(), bad int) {
	f.t.Helper()
	stop()
	f.healAll()
	var others []int
	for i := range f.drives {
		if i != bad && len(others) < 2 {
			others = append(others, i)
		}
	}
	for _, i := range others {
		f.wipe(i)
	}
	f.checkAll(fmt.Sprintf("with drive %d healed and drives %v wiped", bad, others))
}

// TestDriveUnmountedWhileRunning removes a drive's directory under a running deployment,
// as when its disk is unmounted: the drive must be taken out, never created again on the
// file system below, writes must go on without it, and once the directory is back the
// drive must serve again with every object healed onto it.
func TestDriveUnmountedWhileRunning(t *testing.T) {
	f := newFixture(t, 4, 2)
	t.Cleanup(f.d.Close)
	stop := f.runHealing()
	bad := f.drives[1]
	if err := os.Rename(bad, bad+".unmounted"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the unmounted drive is out", func() bool { return outFor(f.d, bad) == format.ReasonReadFailed })
	for i := 0; i < 5; i++ {
		f.put(fmt.Sprint("while-unmounted/", i), 1<<20+i, uint64(100+i))
	}
	if _, err := os.Stat(bad); err == nil {
		t.Fatal("the unmounted drive's directory was created again")
	}
	f.putBack(stop, 1, bad+".unmounted")
}

// putBack moves the directory from back in place of drive i, waits until the drive serves
// again and checks it healed (see checkHealed).
func (f *fixture) putBack(stop func(), i int, from string) {
	f.t.Helper()
	if err := os.Rename(from, f.drives[i]); err != nil {
		f.t.Fatal(err)
	}
	waitUntil(f.t, "the drive serves again", func() bool { return outFor(f.d, f.drives[i]) == 0 })
	f.checkHealed(stop, i)
}

// TestForeignDriveWhileRunning puts another deployment's drive in place of one of ours
// while the server runs: it must be taken out (reason foreign) and never written to, and
// our own drive, put back, must serve again.
func TestForeignDriveWhileRunning(t *testing.T) {
	f := newFixture(t, 4, 2)
	t.Cleanup(f.d.Close)
	other := newFixture(t, 4, 2)
	other.d.Close()
	stop := f.runHealing()
	bad, foreign := f.drives[1], other.drives[0]
	record, err := os.ReadFile(recordOf(foreign))
	if err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, foreign)
	if err := os.Rename(bad, bad+".ours"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(foreign, bad); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the foreign drive is out", func() bool { return outFor(f.d, bad) == format.ReasonForeign })
	for i := 0; i < 5; i++ {
		f.put(fmt.Sprint("while-foreign/", i), 300<<10+i, uint64(200+i))
	}
	f.checkAll("with a foreign drive in place")
	if got, err := os.ReadFile(recordOf(bad)); err != nil || !bytes.Equal(got, record) {
		t.Fatalf("the foreign drive's record was changed (%v)", err)
	}
	if after := treeOf(t, bad); after != before {
		t.Fatalf("the foreign drive was written to:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := os.Rename(bad, foreign); err != nil {
		t.Fatal(err)
	}
	f.putBack(stop, 1, bad+".ours")
}

// TestRecordCorruptedWhileRunning damages a drive's format record while the server runs:
// the check must notice it without a restart, move the damaged record aside, write the
// position's record again and heal the drive.
func TestRecordCorruptedWhileRunning(t *testing.T) {
	f := newFixture(t, 4, 2)
	t.Cleanup(f.d.Close)
	stop := f.runHealing()
	bad := f.drives[2]
	if err := os.WriteFile(recordOf(bad), []byte(`{"version":2,"deployment":"garbage`), 0o644); err != nil {
		t.Fatal(err)
	}
	quarantine := filepath.Join(bad, storage.SysVolume, format.QuarantineDir)
	waitUntil(t, "the damaged record is moved aside", func() bool {
		_, err := os.Stat(quarantine)
		return err == nil
	})
	waitUntil(t, "the drive serves again", func() bool {
		b, err := os.ReadFile(recordOf(bad))
		_, perr := format.Parse(b)
		return err == nil && perr == nil && outFor(f.d, bad) == 0
	})
	f.checkHealed(stop, 2)
}

// treeOf lists every file under dir with its size, one a line.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %v\n", rel, fi.Size(), fi.IsDir())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
