package s3frontend

import (
	"testing"
	"time"

	"github.com/flashstor/flashstor/s3frontend/s3xml"
)

// TestLifecycleExpiryTime: with real days an object expires at the midnight UTC after its
// modification time plus the days, as S3 computes it; with shortened days, exactly then.
func TestLifecycleExpiryTime(t *testing.T) {
	mod := time.Date(2026, 12, 4, 19, 30, 0, 0, time.UTC)
	days := &s3xml.LifecycleRule{ExpirationDays: 2}
	date := &s3xml.LifecycleRule{ExpirationDate: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		day  time.Duration
		rule *s3xml.LifecycleRule
		want time.Time
	}{
		{24 * time.Hour, days, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{time.Second, days, mod.Add(2 * time.Second)},
		{24 * time.Hour, date, date.ExpirationDate},
	} {
		s := &LifecycleScanner{cfg: LifecycleConfig{Day: tc.day}}
		if got, ok := s.expiry(tc.rule, mod); !ok || !got.Equal(tc.want) {
			t.Errorf("day %v, rule %+v: %v %v, want %v", tc.day, tc.rule, got, ok, tc.want)
		}
	}
	if _, ok := (&LifecycleScanner{cfg: LifecycleConfig{Day: time.Hour}}).expiry(&s3xml.LifecycleRule{AbortMultipartDays: 1}, mod); ok {
		t.Error("a rule without Expiration expires objects")
	}
}
