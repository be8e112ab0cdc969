package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// runHeal heals a deployment that no server is running on: it brings back the drives left
// out of the start that it can (a damaged format record is moved aside and the drive
// formatted again for its position), then heals every bucket and object of every set,
// reporting each object it restored. Drives it could not bring back make it fail, after
// healing the rest.
func runHeal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	deep := fs.Bool("deep", true, "verify every shard's checksums (reads every byte); false checks presence and sizes only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("heal: no drives given")
	}
	if isCluster(fs.Args()) {
		return errors.New("heal: the offline heal takes local drive directories; a cluster's nodes heal their sets while they run")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dep, err := deploy.Open(ctx, deploy.Config{Drives: fs.Args(), Parity: -1, Log: log})
	if err != nil {
		return err
	}
	defer dep.Close()
	for _, pos := range dep.Layout.Fresh {
		fmt.Fprintf(stdout, "formatted replacement drive %s (set %d, position %d)\n", dep.Layout.Sets[pos[0]][pos[1]], pos[0], pos[1])
	}
	back, out := dep.RecoverLeftOut(ctx)
	for _, r := range back {
		fmt.Fprintf(stdout, "brought back left-out drive %s (set %d, position %d)", r.Drive, r.Set, r.Index)
		if r.MovedTo != "" {
			fmt.Fprintf(stdout, ": damaged format record moved to %s, formatted again", r.MovedTo)
		}
		fmt.Fprintln(stdout)
	}
	var errs []error
	for _, o := range out {
		fmt.Fprintf(stdout, "drive %s (set %d, position %d) is still left out (%s): %v\n", o.Drive, o.Set, o.Index, o.Reason, o.Err)
		errs = append(errs, fmt.Errorf("drive %s is left out (%s): %w", o.Drive, o.Reason, o.Err))
	}
	healed, dangling := 0, 0
	for si, s := range dep.Sets() {
		err := s.HealAll(ctx, *deep, func(r erasureset.HealResult) {
			if r.Dangling {
				dangling++
				fmt.Fprintf(stdout, "removed dangling %s/%s\n", r.Bucket, r.Key)
				return
			}
			healed++
			var where []string
			for _, i := range r.Healed {
				where = append(where, s.Drives()[i].String())
			}
			fmt.Fprintf(stdout, "healed %s/%s on %v\n", r.Bucket, r.Key, where)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("set %d: %w", si, err))
		}
	}
	fmt.Fprintf(stdout, "heal done: %d objects healed, %d dangling removed\n", healed, dangling)
	return errors.Join(errs...)
}
