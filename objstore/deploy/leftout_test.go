package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// logBuffer collects a deployment's log; safe for the healers' goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// reopen opens the fixture's drives again with a log the test reads, and wrap around
// each drive (nil: none).
func (f *fixture) reopen(wrap func(storage.Drive) storage.Drive) *logBuffer {
	f.t.Helper()
	logs := &logBuffer{}
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: f.drives, Parity: f.parity, WrapDrive: wrap,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		f.t.Fatalf("opening with a damaged drive: %v", err)
	}
	f.t.Cleanup(d.Close)
	f.d = d
	return logs
}

func recordOf(drive string) string { return filepath.Join(drive, storage.SysVolume, "format.json") }

// leftOutCase is one way to make a drive unusable at start, and the way an operator fixes
// it when healing alone cannot.
type leftOutCase struct {
	name   string
	damage func(f *fixture, drive string)
	reason format.Reason
	// fix, if set, is what the operator does; healing alone must not bring the drive back.
	fix func(f *fixture, drive string)
	// fault is set for the case that fails the drive's reads with EIO.
	fault bool
}

var leftOutCases = []leftOutCase{
	{name: "truncated-record", reason: format.ReasonCorrupt, damage: func(f *fixture, d string) {
		if err := os.Truncate(recordOf(d), 40); err != nil {
			f.t.Fatal(err)
		}
	}},
	{name: "flipped-record", reason: format.ReasonCorrupt, damage: func(f *fixture, d string) {
		b, _ := os.ReadFile(recordOf(d))
		for i := len(b)/2 - 8; i < len(b)/2+8; i++ {
			b[i] ^= 0x5a
		}
		os.WriteFile(recordOf(d), b, 0o644)
	}},
	{name: "unknown-version", reason: format.ReasonUnknownVersion, damage: func(f *fixture, d string) {
		b, _ := os.ReadFile(recordOf(d))
		os.WriteFile(recordOf(d), bytes.Replace(b, []byte(`"version": 2`), []byte(`"version": 7`), 1), 0o644)
	}},
	{name: "file-instead-of-directory", reason: format.ReasonReadFailed, damage: func(f *fixture, d string) {
		os.Rename(d, d+".away")
		os.WriteFile(d, []byte("not a drive"), 0o644)
	}, fix: func(f *fixture, d string) {
		os.Remove(d)
		os.Rename(d+".away", d)
	}},
	{name: "missing-directory", reason: format.ReasonReadFailed, damage: func(f *fixture, d string) {
		os.Rename(d, d+".unmounted")
	}, fix: func(f *fixture, d string) {
		os.Rename(d+".unmounted", d)
	}},
	{name: "eio", reason: format.ReasonReadFailed, fault: true},
}

// TestLeftOutAtStart makes drive 3 of 4 (2+2) unusable in each way before a restart: the
// deployment starts without it, says so in its log naming the drive and the reason,
// reports the set degraded, serves every object, and takes writes (3 drives are a write
// quorum). Healing brings the drive back (after the operator's fix where one is needed),
// and a deep heal makes it complete: the two other drives can then be lost.
func TestLeftOutAtStart(t *testing.T) {
	for _, c := range leftOutCases {
		t.Run(c.name, func(t *testing.T) { leftOutScenario(t, c) })
	}
}

func leftOutScenario(t *testing.T, c leftOutCase) {
	f := newFixture(t, 4, 2)
	f.d.Close()
	bad := f.drives[2]
	var fd *faulty.Drive
	var wrap func(storage.Drive) storage.Drive
	if c.fault {
		wrap = func(d storage.Drive) storage.Drive {
			if d.String() != bad {
				return d
			}
			fd = faulty.Wrap(d)
			fd.Fail("*", fmt.Errorf("%w: EIO", storage.ErrFaulty))
			return fd
		}
	} else {
		c.damage(f, bad)
	}
	logs := f.reopen(wrap)
	want := fmt.Sprintf(`drive=%s set=0 position=2 reason=%s`, bad, c.reason)
	if !strings.Contains(logs.String(), "drive left out of this start") || !strings.Contains(logs.String(), want) {
		t.Fatalf("no log line naming the drive and the reason (%s):\n%s", want, logs)
	}
	h := f.d.SetHealth()
	if len(h) != 1 || h[0].Usable != 3 || len(h[0].LeftOut) != 1 || h[0].LeftOut[0] != bad {
		t.Fatalf("set health: %+v", h)
	}
	f.checkAll("with a drive left out")
	f.put("written/while-left-out", 300<<10, 77)
	if c.fix != nil || c.fault {
		if back, out := f.d.RecoverLeftOut(context.Background()); len(back) != 0 || len(out) != 1 || out[0].Reason != c.reason {
			t.Fatalf("before the fix: back %+v, still out %+v", back, out)
		}
		if c.fault {
			fd.Clear()
		} else {
			c.fix(f, bad)
		}
	}
	back, out := f.d.RecoverLeftOut(context.Background())
	if len(back) != 1 || len(out) != 0 || back[0].Drive != bad {
		t.Fatalf("RecoverLeftOut: back %+v, still out %+v", back, out)
	}
	if healable := c.fix == nil && !c.fault; healable != (back[0].MovedTo != "") {
		t.Fatalf("damaged record moved to %q", back[0].MovedTo)
	}
	if back[0].MovedTo != "" {
		if _, err := os.Stat(filepath.Join(bad, back[0].MovedTo)); err != nil {
			t.Fatalf("the damaged record is not where it was moved: %v", err)
		}
	}
	if h := f.d.SetHealth(); h[0].Usable != 4 || len(h[0].LeftOut) != 0 {
		t.Fatalf("set health after recovery: %+v", h)
	}
	if healed := f.healAll(); healed == 0 {
		t.Fatal("the heal after recovery found nothing to do: the object written meanwhile is missing there")
	}
	if again := f.healAll(); again != 0 {
		t.Fatalf("a second heal still healed %d objects", again)
	}
	f.d.Close()
	f.wipe(0)
	f.wipe(3)
	f.reopen(nil)
	f.checkAll("after recovery, heal and the loss of the two other drives")
}

// TestLeftOutBelowReadQuorum damages three drives of four: the deployment still opens, and
// every object answers a read-quorum error (503 for S3), never wrong data.
func TestLeftOutBelowReadQuorum(t *testing.T) {
	f := newFixture(t, 4, 2)
	f.d.Close()
	for _, i := range []int{0, 1, 3} {
		os.Truncate(recordOf(f.drives[i]), 10)
	}
	logs := f.reopen(nil)
	if !strings.Contains(logs.String(), "below read quorum") {
		t.Fatalf("no log line for the set below read quorum:\n%s", logs)
	}
	for key := range f.objects {
		if _, err := f.d.OpenObject(context.Background(), faultBucket, key); !errors.Is(err, objstore.ErrReadQuorum) {
			t.Fatalf("OpenObject(%s) below read quorum: %v", key, err)
		}
	}
	if _, err := f.d.PutObject(context.Background(), faultBucket, "new", strings.NewReader("x"), 1, objstore.PutOptions{}); !errors.Is(err, objstore.ErrWriteQuorum) {
		t.Fatalf("PutObject below write quorum: %v", err)
	}
	back, _ := f.d.RecoverLeftOut(context.Background())
	if len(back) != 3 {
		t.Fatalf("recovered %d drives", len(back))
	}
	f.checkAll("after recovery")
}

// TestLeftOutOnlineHeal: the background healing brings a left-out drive back by itself
// and heals its set in full and deeply (the drive's shards are as damaged as its record).
func TestLeftOutOnlineHeal(t *testing.T) {
	f := newFixture(t, 4, 2)
	f.d.Close()
	bad := f.drives[1]
	shards, metas := f.files(1)
	corrupt(t, rand.New(rand.NewPCG(9, 9)), append(shards, metas...))
	leftOutCases[1].damage(f, bad)
	f.reopen(nil)
	c, cancel := context.WithCancel(context.Background())
	healed := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.d.RunHealing(c, deploy.HealingOptions{ScanInterval: -1, Report: func(r erasureset.HealResult, err error) {
			if err == nil && len(r.Healed) > 0 {
				healed <- r.Key
			}
		}})
	}()
	t.Cleanup(func() { cancel(); <-done })
	seen := make(map[string]bool)
	deadline := time.After(2 * time.Minute) // catches a heal that never comes; measures nothing
	for len(seen) < len(f.objects) {
		select {
		case k := <-healed:
			seen[k] = true
		case <-deadline:
			t.Fatalf("only %d of %d objects healed: %v", len(seen), len(f.objects), seen)
		}
	}
	if h := f.d.SetHealth(); h[0].Usable != 4 {
		t.Fatalf("set health after the online heal: %+v", h)
	}
	cancel()
	<-done
	if again := f.healAll(); again != 0 {
		t.Fatalf("a deep heal after the online heal still healed %d objects", again)
	}
}

// TestLeftOutEACCES: a drive directory the server may not read (chmod 000) is left out and
// comes back once its mode is fixed. Root reads anything, so as root the scenario runs in a
// child process that first becomes nobody.
func TestLeftOutEACCES(t *testing.T) {
	if os.Getenv(eaccesEnv) != "" {
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
		eaccesScenario(t, os.Getenv(eaccesEnv))
		return
	}
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		eaccesScenario(t, dir)
		return
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hung child is killed
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLeftOutEACCES$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), eaccesEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLeftOutEACCES") {
		t.Fatalf("the child (as nobody): %v\n%s", err, out)
	}
}

const eaccesEnv = "FLASHSTOR_EACCES_CHILD" // set: TestLeftOutEACCES is the child, in that directory

func eaccesScenario(t *testing.T, dir string) {
	f := newFixtureIn(t, dir, 4, 2)
	f.d.Close()
	bad := f.drives[2]
	if err := os.Chmod(bad, 0); err != nil {
		t.Fatal(err)
	}
	logs := f.reopen(nil)
	if !strings.Contains(logs.String(), fmt.Sprintf("drive=%s set=0 position=2 reason=read_failed", bad)) ||
		!strings.Contains(logs.String(), "permission denied") {
		t.Fatalf("no log line naming the drive and EACCES:\n%s", logs)
	}
	f.checkAll("with an unreadable drive")
	if back, _ := f.d.RecoverLeftOut(context.Background()); len(back) != 0 {
		t.Fatal("an unreadable drive was brought back")
	}
	if err := os.Chmod(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if back, _ := f.d.RecoverLeftOut(context.Background()); len(back) != 1 || back[0].Formatted {
		t.Fatalf("after chmod 755: %+v", back)
	}
	f.checkAll("after the drive came back")
}

// TestRecordMissingWithData: a drive that lost its format record but kept shards, corrupt
// ones among them, is formatted again by the start and its set healed deeply: a shallow
// heal (presence and sizes) would leave the corrupt shards in place.
func TestRecordMissingWithData(t *testing.T) {
	f := newFixture(t, 4, 2)
	f.d.Close()
	shards, _ := f.files(1)
	corrupt(t, rand.New(rand.NewPCG(3, 3)), shards)
	if err := os.Remove(recordOf(f.drives[1])); err != nil {
		t.Fatal(err)
	}
	logs := f.reopen(nil)
	if len(f.d.Layout.Fresh) != 1 {
		t.Fatalf("formatted at start: %v", f.d.Layout.Fresh)
	}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.d.RunHealing(c, deploy.HealingOptions{ScanInterval: -1}) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := 0; !strings.Contains(logs.String(), `msg="set healed"`); i++ {
		if i == 6000 { // 2 minutes: catches a heal that never ends; measures nothing
			t.Fatalf("the set was not healed:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "deep=true") {
		t.Fatalf("the set was not healed deeply:\n%s", logs)
	}
	cancel()
	<-done
	if again := f.healAll(); again != 0 {
		t.Fatalf("a deep heal after the start's heal still healed %d objects", again)
	}
}
