package lincheck

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/flashstor/flashstor/objstore"
)

// LayerStore is a Store that calls an object layer directly, in one bucket.
func LayerStore(l objstore.ObjectLayer, bucket string) Store {
	return layerStore{l: l, bucket: bucket}
}

type layerStore struct {
	l      objstore.ObjectLayer
	bucket string
}

func (s layerStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond Cond, etag string) error {
	var opts objstore.PutOptions
	switch cond {
	case IfAbsent:
		opts.Preconditions.IfNoneMatch = true
	case IfMatch:
		opts.Preconditions.IfMatch = etag
	}
	_, err := s.l.PutObject(ctx, s.bucket, key, body, size, opts)
	return err
}

func (s layerStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	h, err := s.l.OpenObject(ctx, s.bucket, key)
	if err != nil {
		return nil, "", err
	}
	defer h.Close()
	info := h.Info()
	var buf bytes.Buffer
	buf.Grow(int(info.Size))
	if _, err := h.WriteRange(ctx, &buf, 0, info.Size); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", key, err)
	}
	return buf.Bytes(), info.ETag, nil
}

func (s layerStore) Delete(ctx context.Context, key string) error {
	return s.l.DeleteObject(ctx, s.bucket, key)
}
