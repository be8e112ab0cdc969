package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/flashstor/flashstor/objstore/deploy"
)

// mountIfAsked mounts the buckets at cfg.mount when given. The FUSE face is not part of
// this build yet.
func mountIfAsked(ctx context.Context, cfg serverConfig, dep *deploy.Deployment, log *slog.Logger) (func(), error) {
	if cfg.mount == "" {
		return func() {}, nil
	}
	return nil, errors.New("--mount: the FUSE face is not in this build")
}
