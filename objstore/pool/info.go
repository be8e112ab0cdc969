package pool

import (
	"context"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/storage"
)

// StorageInfo reports the capacity and state of every drive.
func (p *Pool) StorageInfo(ctx context.Context) objstore.StorageInfo {
	var info objstore.StorageInfo
	info.ErasureSets = len(p.sets)
	info.DataShards, info.Parity = p.sets[0].Geometry()
	for si, s := range p.sets {
		drives := s.Drives()
		infos := make([]storage.DiskInfo, len(drives))
		errs := make([]error, len(drives))
		done := make(chan int, len(drives))
		for i, d := range drives {
			go func() {
				infos[i], errs[i] = d.DiskInfo(ctx)
				done <- i
			}()
		}
		for range drives {
			<-done
		}
		k, _ := s.Geometry()
		var setFree, setTotal uint64
		for i, d := range drives {
			di := objstore.DriveInfo{Endpoint: d.String(), Set: si, Index: i}
			if errs[i] == nil {
				di.Online, di.Total, di.Free, di.State = true, infos[i].Total, infos[i].Free, "ok"
				info.Total += infos[i].Total
				info.Free += infos[i].Free
				info.Files += infos[i].Files
				info.FreeFiles += infos[i].FreeFiles
				info.OnlineDrives++
				if setFree == 0 || infos[i].Free < setFree {
					setFree = infos[i].Free
				}
				if setTotal == 0 || infos[i].Total < setTotal {
					setTotal = infos[i].Total
				}
			} else {
				di.State = errs[i].Error()
				info.OfflineDrives++
			}
			info.Drives = append(info.Drives, di)
		}
		// A set can store k shards' worth of its smallest drive.
		info.UsableTotal += setTotal * uint64(k)
		info.UsableFree += setFree * uint64(k)
	}
	return info
}

// Ready reports whether every set has enough drives online to take writes.
func (p *Pool) Ready(ctx context.Context) bool {
	for _, s := range p.sets {
		quorum := erasureset.WriteQuorum(s.Geometry())
		online := 0
		for _, d := range s.Drives() {
			if _, err := d.DiskInfo(ctx); err == nil {
				online++
			}
		}
		if online < quorum {
			return false
		}
	}
	return true
}
