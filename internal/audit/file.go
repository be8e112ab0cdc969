package audit

import (
	"fmt"
	"os"
	"sync"
)

// FileSink appends batches to a file. Reopen supports rotation: the file is renamed
// away, then Reopen creates a new one at the same path.
type FileSink struct {
	path string
	perm os.FileMode

	mu sync.Mutex // guards f: WriteBatch (consumer) against Reopen and Close (others)
	f  *os.File
}

var _ Reopener = (*FileSink)(nil)

// OpenFile opens (creating it with mode 0600 if needed) the file at path for appending.
// The log names buckets, keys and access keys: keep it private.
func OpenFile(path string) (*FileSink, error) {
	s := &FileSink{path: path, perm: 0o600}
	f, err := s.open()
	if err != nil {
		return nil, err
	}
	s.f = f
	return s, nil
}

func (s *FileSink) open() (*os.File, error) {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, s.perm)
	if err != nil {
		return nil, fmt.Errorf("audit: open log file: %w", err)
	}
	return f, nil
}

// WriteBatch appends p with one write (O_APPEND: whole lines, even beside other writers).
func (s *FileSink) WriteBatch(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("audit: write %s: sink closed", s.path)
	}
	if _, err := s.f.Write(p); err != nil {
		return fmt.Errorf("audit: write log file: %w", err)
	}
	return nil
}

// Reopen opens the path again and switches to the new file; batches already written are
// in the old one. If the path cannot be opened, the old file stays in use and the error
// is returned.
func (s *FileSink) Reopen() error {
	f, err := s.open()
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.f
	if old != nil {
		s.f = f
	}
	s.mu.Unlock()
	if old == nil {
		f.Close()
		return fmt.Errorf("audit: reopen %s: sink closed", s.path)
	}
	if err := old.Close(); err != nil {
		return fmt.Errorf("audit: close rotated log file: %w", err)
	}
	return nil
}

// Close syncs and closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: sync log file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit: close log file: %w", err)
	}
	return nil
}
