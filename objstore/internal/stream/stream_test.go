package stream

import (
	"context"
	"errors"
	"testing"
)

func count(n int) func(ctx context.Context, emit func(int) error) error {
	return func(ctx context.Context, emit func(int) error) error {
		for i := 0; i < n; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestStreamDeliversInOrder(t *testing.T) {
	for _, n := range []int{0, 1, batchSize - 1, batchSize, 3*batchSize + 7} {
		s := Start(context.Background(), count(n))
		for want := 0; want < n; want++ {
			got, ok := s.Peek()
			if !ok || *got != want {
				t.Fatalf("n=%d: item %d = %v, %v", n, want, got, ok)
			}
			s.Next()
		}
		if _, ok := s.Peek(); ok {
			t.Fatalf("n=%d: items after the last", n)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStreamStopEndsProducer(t *testing.T) {
	s := Start(context.Background(), count(1_000_000_000))
	s.Peek()
	s.Stop() // must return: the producer sees emit fail and ends
	if _, ok := s.Peek(); ok {
		t.Fatal("a stopped stream still yields items")
	}
}

func TestStreamReportsError(t *testing.T) {
	boom := errors.New("boom")
	s := Start(context.Background(), func(ctx context.Context, emit func(int) error) error {
		emit(1)
		return boom
	})
	for _, ok := s.Peek(); ok; _, ok = s.Peek() {
		s.Next()
	}
	if !errors.Is(s.Err(), boom) {
		t.Fatalf("Err = %v", s.Err())
	}
}
