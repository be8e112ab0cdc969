// Package stream turns a producer that calls back for each item into a stream that can be
// peeked and advanced, so that several sorted producers (the drives of a set, the sets of a
// pool) can be merged. Items travel in batches, so that a channel operation is paid per
// batch, not per item.
package stream

import (
	"context"
	"errors"
)

// batchSize is the number of items per channel send.
const batchSize = 256

// errStopped is what emit returns once the consumer has stopped the stream.
var errStopped = errors.New("stream stopped")

// Stream is a producer's output, consumed by one goroutine.
type Stream[T any] struct {
	ch     chan []T
	cancel context.CancelFunc
	batch  []T
	pos    int
	// err is the producer's error, set before ch is closed (so read it only after the
	// stream is exhausted).
	err  error
	done bool
}

// Start runs produce in a new goroutine. produce calls emit for each item in order and
// returns when done; emit returns an error once the stream is stopped, which produce should
// return.
func Start[T any](ctx context.Context, produce func(ctx context.Context, emit func(T) error) error) *Stream[T] {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream[T]{ch: make(chan []T, 2), cancel: cancel}
	go func() {
		defer close(s.ch)
		batch := make([]T, 0, batchSize)
		send := func() error {
			select {
			case s.ch <- batch:
				batch = make([]T, 0, batchSize)
				return nil
			case <-ctx.Done():
				return errStopped
			}
		}
		err := produce(ctx, func(item T) error {
			batch = append(batch, item)
			if len(batch) == batchSize {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		if errors.Is(err, errStopped) {
			err = nil
		}
		s.err = err
	}()
	return s
}

// Peek returns the next item without consuming it, or false when the stream is exhausted.
func (s *Stream[T]) Peek() (*T, bool) {
	for s.pos >= len(s.batch) {
		if s.done {
			return nil, false
		}
		b, ok := <-s.ch
		if !ok {
			s.done = true
			s.batch, s.pos = nil, 0
			return nil, false
		}
		s.batch, s.pos = b, 0
	}
	return &s.batch[s.pos], true
}

// Next consumes the item Peek returned.
func (s *Stream[T]) Next() { s.pos++ }

// Err returns the producer's error once Peek has reported the end.
func (s *Stream[T]) Err() error {
	if !s.done {
		return nil
	}
	return s.err
}

// Stop tells the producer to stop and waits for it to end.
func (s *Stream[T]) Stop() {
	s.cancel()
	for range s.ch {
	}
	s.done = true
	s.batch, s.pos = nil, 0
}
