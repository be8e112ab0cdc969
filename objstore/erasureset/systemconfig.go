package erasureset

import (
	"context"

	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
)

// systemRoot is the directory of the system volume that holds the deployment's own
// records (SystemConfigStore), in the bucket configuration records' format.
const systemRoot = "system"

func systemConfigPath(name string) string { return systemRoot + "/" + name + "/config" }

// ReadSystemConfig returns the deployment record name as a read quorum of drives holds it,
// by ReadBucketConfig's rules.
func (s *Set) ReadSystemConfig(ctx context.Context, name string) (*meta.BucketConfig, error) {
	return s.readConfigRecord(ctx, systemConfigPath(name))
}

// WriteSystemConfig replaces the deployment record name on every drive, durably;
// ErrWriteQuorum unless a write quorum took it. The caller serialises writers.
func (s *Set) WriteSystemConfig(ctx context.Context, name string, c *meta.BucketConfig) error {
	b := c.Marshal()
	errs := s.each(func(i int, d storage.Drive) error {
		return d.WriteFile(ctx, storage.SysVolume, systemConfigPath(name), b)
	})
	return s.writeOutcome(errs)
}
