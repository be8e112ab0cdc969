package pool

import (
	"context"
	"fmt"
	"maps"

	"github.com/flashstor/flashstor/objstore"
)

var _ objstore.SystemConfigStore = (*Pool)(nil)

// SystemConfig implements objstore.SystemConfigStore. The records live in the first
// erasure set, beside the buckets' configuration records.
func (p *Pool) SystemConfig(ctx context.Context, name string) (map[string]string, error) {
	if !validSystemName(name) {
		return nil, fmt.Errorf("system record %q: %w", name, objstore.ErrInvalidArgument)
	}
	c, err := p.sets[0].ReadSystemConfig(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading system record %s: %w", name, err)
	}
	if c.Docs == nil {
		return map[string]string{}, nil
	}
	return c.Docs, nil
}

// SetSystemConfig implements objstore.SystemConfigStore.
func (p *Pool) SetSystemConfig(ctx context.Context, name string, docs map[string]string) error {
	if !validSystemName(name) {
		return fmt.Errorf("system record %q: %w", name, objstore.ErrInvalidArgument)
	}
	old, err := p.sets[0].ReadSystemConfig(ctx, name)
	if err != nil {
		return fmt.Errorf("reading system record %s: %w", name, err)
	}
	if err := p.sets[0].WriteSystemConfig(ctx, name, nextRecord(old, maps.Clone(docs))); err != nil {
		return fmt.Errorf("writing system record %s: %w", name, err)
	}
	return nil
}

func validSystemName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
