// Package diskbench measures the raw write limit that a put is compared with in
// benchmarks (issue 11): the shard bytes of one object written to new files in the drive
// directories by one writer per drive at once, with the durability a drive gives a shard
// file (fdatasync), and nothing else: no encoding, hashing or metadata.
package diskbench

import (
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/internal/alignbuf"
)

// chunk is the size of each write, the size a local drive writes a shard file in.
const chunk = 1 << 20

// Shards is one object's shard file content, written to every drive.
type Shards struct {
	data    []byte // the shard file's bytes
	aligned []byte // the same, in an aligned buffer of a length rounded up to alignbuf.Align
}

// NewShards returns the shard file content of size bytes (its bytes are data's, repeated or
// cut to size).
func NewShards(data []byte, size int) *Shards {
	s := &Shards{data: make([]byte, size)}
	for off := 0; off < size && len(data) > 0; off += copy(s.data[off:], data) {
	}
	s.aligned = alignbuf.Make(size)
	copy(s.aligned, s.data)
	return s
}

// Write writes the shard content to the file name in every directory of dirs at once
// (replacing what an earlier Write left there), then fdatasyncs each file, and returns the
// first error. With direct, the files are written with O_DIRECT from the aligned buffer
// (rounded up, then truncated back to the size); otherwise through the page cache.
func (s *Shards) Write(dirs []string, name string, direct bool) error {
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Go(func() { errs[i] = s.writeOne(dir+"/"+name, direct) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Shards) writeOne(path string, direct bool) error {
	os.Remove(path)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	src := s.data
	if direct {
		flags |= unix.O_DIRECT
		src = s.aligned
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for off := 0; off < len(src); off += chunk {
		if _, err := f.Write(src[off:min(off+chunk, len(src))]); err != nil {
			return err
		}
	}
	if len(src) != len(s.data) {
		if err := f.Truncate(int64(len(s.data))); err != nil {
			return err
		}
	}
	return unix.Fdatasync(int(f.Fd()))
}

// Phases times the phases of alternating rounds: each phase runs conc clients at once and
// adds its wall time, and the process's CPU time (user and system) while it ran, to its
// totals. The CPU time tells what a phase costs the machine, which the wall time on a
// shared, loaded machine does not: other processes' load slows a CPU-bound phase more than
// one that waits on the disk.
type Phases struct {
	conc  int
	total map[string]time.Duration
	cpu   map[string]time.Duration
	names []string // in the order first run
}

// NewPhases returns phases run by conc clients each.
func NewPhases(conc int) *Phases {
	return &Phases{conc: conc, total: map[string]time.Duration{}, cpu: map[string]time.Duration{}}
}

// cpuTime returns the process's user plus system CPU time so far (zero if it cannot).
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Run runs f for every client at once, adds the time until the last returns to phase
// name's total, and returns the first error.
func (p *Phases) Run(name string, f func(client int) error) error {
	if _, ok := p.total[name]; !ok {
		p.names = append(p.names, name)
	}
	start, startCPU := time.Now(), cpuTime()
	errs := make([]error, p.conc)
	var wg sync.WaitGroup
	for c := range p.conc {
		wg.Go(func() { errs[c] = f(c) })
	}
	wg.Wait()
	p.total[name] += time.Since(start)
	p.cpu[name] += cpuTime() - startCPU
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// MBps returns phase name's throughput over rounds rounds of objects of size bytes, in MB/s
// of object bytes.
func (p *Phases) MBps(name string, size, rounds int) float64 {
	return float64(size) * float64(p.conc) * float64(rounds) / p.total[name].Seconds() / 1e6
}

// CPUPerObject returns phase name's process CPU time per object over rounds rounds, in
// milliseconds (background work of the runtime, such as the garbage collector, counts
// toward the phase it runs in).
func (p *Phases) CPUPerObject(name string, rounds int) float64 {
	return float64(p.cpu[name].Microseconds()) / 1e3 / float64(p.conc*rounds)
}

// The raw phases: the limit a put is measured against.
const (
	RawBuffered = "raw-buf"
	RawDirect   = "raw-direct"
)

// RunRaw runs the raw phases of one round: every client writes s into dirs (a file named
// by the client), buffered (RawBuffered), then with O_DIRECT (RawDirect).
func (p *Phases) RunRaw(s *Shards, dirs []string) error {
	if err := p.Run(RawBuffered, func(c int) error { return s.Write(dirs, strconv.Itoa(c), false) }); err != nil {
		return err
	}
	return p.Run(RawDirect, func(c int) error { return s.Write(dirs, strconv.Itoa(c), true) })
}

// Limit returns the raw limit over rounds rounds of objects of size bytes, in MB/s of
// object bytes: the faster of the raw phases.
func (p *Phases) Limit(size, rounds int) float64 {
	return max(p.MBps(RawBuffered, size, rounds), p.MBps(RawDirect, size, rounds))
}
