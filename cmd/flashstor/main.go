// Command flashstor is the Flashstor object store: an erasure-coded, S3-compatible server whose
// buckets can also be mounted as directories.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flashstor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: flashstor COMMAND [ARGS]")
	}
	return fmt.Errorf("unknown command %q", args[0])
}
