package bench

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// measureIdle opens cfg.IdleConns connections to a fresh server, makes one signed GET on
// each and leaves them open and idle, then reports the server's memory growth per
// connection (heap and stacks after two GCs, and RSS).
func measureIdle(ctx context.Context, cfg Config, transport string) (Idle, error) {
	ch, err := startChild(ctx, childConfig{Transport: transport, Drives: drivesFor(cfg, "idle-"+transport),
		AccessKey: benchAccessKey, SecretKey: benchSecretKey, Region: benchRegion})
	if err != nil {
		return Idle{}, err
	}
	defer ch.stop()
	if _, err := sdkClient(ch.addr, 1).CreateBucket(ctx, createBucketInput()); err != nil {
		return Idle{}, err
	}
	req, err := signedRequest("HEAD", ch.addr, "/"+benchBucket)
	if err != nil {
		return Idle{}, err
	}
	// One warm connection first, so that the per-request pools exist before the baseline.
	warm, err := dialRaw(ch.addr, req)
	if err != nil {
		return Idle{}, err
	}
	defer warm.conn.Close()
	if err := warm.roundTripHead(); err != nil {
		return Idle{}, err
	}
	before, err := ch.stats(true)
	if err != nil {
		return Idle{}, err
	}
	conns := make([]*rawConn, 0, cfg.IdleConns)
	defer func() {
		for _, c := range conns {
			c.conn.Close()
		}
	}()
	for i := 0; i < cfg.IdleConns; i++ {
		if ctx.Err() != nil {
			return Idle{}, ctx.Err()
		}
		c, err := dialRaw(ch.addr, req)
		if err != nil {
			return Idle{}, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if err := c.roundTripHead(); err != nil {
			return Idle{}, fmt.Errorf("connection %d: %w", i, err)
		}
		c.br, c.buf = nil, nil // the client keeps only the socket
	}
	after, err := ch.stats(true)
	if err != nil {
		return Idle{}, err
	}
	n := float64(cfg.IdleConns)
	return Idle{
		Transport:        transport,
		Conns:            cfg.IdleConns,
		HeapStackPerConn: (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / n,
		PoolPerConn:      float64((after.PooledBlocks-before.PooledBlocks)*64<<10) / n,
		RSSPerConn:       float64(after.RSS-before.RSS) / n,
	}, nil
}

func createBucketInput() *s3.CreateBucketInput {
	return &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}
}
