// Command flashstor is the Flashstor object store: an erasure-coded, S3-compatible server
// whose buckets can also be mounted as directories.
//
//	flashstor server [flags] DRIVE...   serve S3 (and mount with --mount)
//	flashstor heal [--deep] DRIVE...    bring back left-out drives, heal every object, offline
//	flashstor version
//
// DRIVE is a directory; "{a...b}" ranges expand, as in /srv/disk{1...4}. Drives given as
// URLs (http://node{1...4}:9000/data{1...4}, the same list on every node) make the server a
// node of a cluster (README, "A cluster").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flashstor:", err)
		os.Exit(1)
	}
}

const usage = `usage: flashstor COMMAND [FLAGS] [DRIVE...]

commands:
  server   serve S3 on the drives (and mount them with --mount DIR)
  admin    administer IAM users, groups and policies of a running server
  heal     bring back left-out drives, restore every missing or corrupt shard and
           metadata file, offline
  version  print the version

"flashstor COMMAND -h" lists a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], stdout, stderr)
	case "heal":
		return runHeal(ctx, args[1:], stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "flashstor", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
