package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/flashstor/flashstor/objstore/deploy"
)

// serverConfig is what the server flags set.
type serverConfig struct {
	address string
	parity  int
	drives  []string
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serverConfig
	fs.StringVar(&cfg.address, "address", "127.0.0.1:9000", "S3 endpoint address HOST:PORT")
	fs.IntVar(&cfg.parity, "parity", -1, "parity drives per erasure set for new objects (default: by set size)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.drives = fs.Args()
	if len(cfg.drives) == 0 {
		return errors.New("server: no drives given")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	dep, err := deploy.Open(ctx, deploy.Config{Drives: cfg.drives, Parity: cfg.parity, Log: log})
	if err != nil {
		return err
	}
	defer dep.Close()
	info := dep.StorageInfo(ctx)
	fmt.Fprintf(stdout, "flashstor: %d drives in %d erasure sets of %d+%d\n", len(dep.Drives), info.ErasureSets, info.DataShards, info.Parity)
	go dep.RunHealing(ctx, deploy.HealingOptions{})
	<-ctx.Done()
	return nil
}
