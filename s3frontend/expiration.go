package s3frontend

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// expiryTime returns when an object modified at mod expires by r, and whether r expires
// current objects at all (Expiration by Days or Date). day is the length of a lifecycle
// day; with real days the time is rounded up to the next midnight UTC, as S3 does. The
// scanner and the x-amz-expiration header both decide by it.
func expiryTime(r *s3xml.LifecycleRule, mod time.Time, day time.Duration) (time.Time, bool) {
	switch {
	case r.ExpirationDays > 0:
		return daysAfter(mod, r.ExpirationDays, day), true
	case !r.ExpirationDate.IsZero():
		return r.ExpirationDate, true
	}
	return time.Time{}, false
}

// daysAfter returns the time days lifecycle days (of length day) after t: with real days
// rounded up to the next midnight UTC, as S3 does.
func daysAfter(t time.Time, days int, day time.Duration) time.Time {
	t = t.Add(time.Duration(days) * day)
	if day == 24*time.Hour {
		t = t.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	return t
}

// lifecycleCache keeps each bucket's parsed lifecycle rules, so that GET and HEAD can send
// x-amz-expiration without reading the bucket's configuration record each time. An entry
// is dropped when this handler changes the bucket's lifecycle document, and every entry
// when a bucket is made or removed (through either face: the layer's change feed).
type lifecycleCache struct {
	mu sync.RWMutex
	// rules is each cached bucket's enabled rules that expire current objects (nil: none).
	// GUARDED_BY(mu)
	rules map[string][]s3xml.LifecycleRule
	// gen counts invalidations: a load that raced one is not stored. GUARDED_BY(mu)
	gen uint64
}

// get returns bucket's expiring rules, loading them with load on a miss. An error of load
// is returned and nothing is cached.
func (lc *lifecycleCache) get(bucket string, load func() ([]s3xml.LifecycleRule, error)) ([]s3xml.LifecycleRule, error) {
	lc.mu.RLock()
	rules, ok := lc.rules[bucket]
	gen := lc.gen
	lc.mu.RUnlock()
	if ok {
		return rules, nil
	}
	rules, err := load()
	if err != nil {
		return nil, err
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.gen == gen {
		if lc.rules == nil {
			lc.rules = make(map[string][]s3xml.LifecycleRule)
		}
		lc.rules[bucket] = rules
	}
	return rules, nil
}

// forget drops bucket's entry ("" : every entry).
func (lc *lifecycleCache) forget(bucket string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.gen++
	if bucket == "" {
		clear(lc.rules)
	} else {
		delete(lc.rules, bucket)
	}
}

// expiringRules returns the enabled rules of bucket that expire current objects; a stored
// document that does not parse (damaged by hand) has none.
func (h *Handler) expiringRules(ctx context.Context, bucket string) ([]s3xml.LifecycleRule, error) {
	return h.lifecycle.get(bucket, func() ([]s3xml.LifecycleRule, error) {
		cfg, err := h.configs.BucketConfig(ctx, bucket)
		if err != nil {
			return nil, err
		}
		doc := cfg[objstore.BucketConfigLifecycle]
		if doc == "" {
			return nil, nil
		}
		all, err := s3xml.ParseLifecycle([]byte(doc))
		if err != nil {
			h.log.Error("s3: stored lifecycle configuration does not parse", "bucket", bucket, "err", err)
			return nil, nil
		}
		var rules []s3xml.LifecycleRule
		for _, r := range all {
			if _, ok := expiryTime(&r, time.Time{}, h.lifecycleDay); ok && r.Enabled {
				rules = append(rules, r)
			}
		}
		return rules, nil
	})
}

// setExpiration sends x-amz-expiration for the current version info: the earliest expiry
// among the bucket's rules whose filter matches it, with that rule's id, as S3 does.
// Noncurrent versions and delete markers get none. A configuration that cannot be read
// leaves the header out rather than failing the read.
func (c *call) setExpiration(info objstore.ObjectInfo) {
	if c.h.configs == nil || !info.Version.IsLatest || info.Version.DeleteMarker {
		return
	}
	rules, err := c.h.expiringRules(c.context(), c.bucket)
	if err != nil || len(rules) == 0 {
		return
	}
	var best *s3xml.LifecycleRule
	var at time.Time
	for i := range rules {
		r := &rules[i]
		if !matches(r, &info) {
			continue
		}
		if t, _ := expiryTime(r, info.ModTime, c.h.lifecycleDay); best == nil || t.Before(at) {
			best, at = r, t
		}
	}
	if best == nil {
		return
	}
	c.scratch = append(c.scratch[:0], `expiry-date="`...)
	c.scratch = at.UTC().AppendFormat(c.scratch, http.TimeFormat)
	c.scratch = append(c.scratch, `", rule-id="`...)
	c.scratch = appendHeaderSafe(c.scratch, best.ID)
	c.scratch = append(c.scratch, '"')
	c.setHeader("x-amz-expiration", c.scratch)
}

// appendHeaderSafe appends id to b with the bytes that cannot stand inside a quoted header
// value (controls, '"', '%', non-ASCII) percent-encoded: a rule id is the client's text.
func appendHeaderSafe(b []byte, id string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '%' {
			b = append(b, '%', hex[ch>>4], hex[ch&15])
			continue
		}
		b = append(b, ch)
	}
	return b
}
