package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// WebhookConfig configures a WebhookSink. Zero values take the defaults.
type WebhookConfig struct {
	// URL receives each batch as the body of a POST (Content-Type application/x-ndjson).
	URL string
	// Client sends the requests (default: a client with a 10s timeout). Give one whose
	// transport trusts the CA of an HTTPS endpoint (tlsconf's RootCAs).
	Client *http.Client
	// AuthToken, if set, is sent as "Authorization: Bearer AuthToken".
	AuthToken string
	// Attempts is how many times a batch is sent before it is given up (default 3).
	Attempts int
	// Backoff is the wait before the first retry, doubled before each next one
	// (default 250ms).
	Backoff time.Duration
}

// WebhookSink posts batches to an HTTP endpoint. A batch is retried on a transport error
// or a 5xx, 408 or 429 answer, at most Attempts times in all; other answers are final.
type WebhookSink struct {
	cfg    WebhookConfig
	ctx    context.Context // cancelled by Close: stops a retry wait or a request in flight
	cancel context.CancelFunc

	posts, retries, failures atomic.Uint64
}

// WebhookStats are a webhook sink's counters.
type WebhookStats struct {
	Posts    uint64 // requests sent
	Retries  uint64 // requests that were retries of a failed one
	Failures uint64 // batches given up after every attempt failed
}

// NewWebhook returns a sink that posts to cfg.URL.
func NewWebhook(cfg WebhookConfig) (*WebhookSink, error) {
	if cfg.URL == "" {
		return nil, errors.New("audit: webhook URL is empty")
	}
	if _, err := http.NewRequest(http.MethodPost, cfg.URL, nil); err != nil {
		return nil, fmt.Errorf("audit: webhook URL: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &WebhookSink{cfg: cfg, ctx: ctx, cancel: cancel}, nil
}

// WriteBatch posts p, retrying as configured.
func (w *WebhookSink) WriteBatch(p []byte) error {
	wait := w.cfg.Backoff
	var err error
	for attempt := 1; attempt <= w.cfg.Attempts; attempt++ {
		if attempt > 1 {
			w.retries.Add(1)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.ctx.Done():
				t.Stop()
				w.failures.Add(1)
				return fmt.Errorf("audit: webhook: closed while retrying: %w", err)
			}
			wait *= 2
		}
		var retry bool
		retry, err = w.post(p)
		if err == nil {
			return nil
		}
		if !retry {
			break
		}
	}
	w.failures.Add(1)
	return err
}

// post sends one request and reports whether a failure is worth a retry.
func (w *WebhookSink) post(p []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(p))
	if err != nil {
		return false, fmt.Errorf("audit: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if w.cfg.AuthToken != "" {
		req.Header.Set("Authorization", "Bearer "+w.cfg.AuthToken)
	}
	w.posts.Add(1)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return w.ctx.Err() == nil, fmt.Errorf("audit: webhook post: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return true, fmt.Errorf("audit: webhook answered %s", resp.Status)
	default:
		return false, fmt.Errorf("audit: webhook answered %s", resp.Status)
	}
}

// Stats returns the sink's counters.
func (w *WebhookSink) Stats() WebhookStats {
	return WebhookStats{Posts: w.posts.Load(), Retries: w.retries.Load(), Failures: w.failures.Load()}
}

// Close cancels a request or a retry wait in progress.
func (w *WebhookSink) Close() error {
	w.cancel()
	w.cfg.Client.CloseIdleConnections()
	return nil
}
