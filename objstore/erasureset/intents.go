package erasureset

import "context"

// IntentCheck reports whether a pending multi-key operation (an intent of the pool's
// journal: a rename cut by a crash, still to be completed) may change the object at
// bucket/key. Such a key may be whole on no read quorum of drives for a while (an object
// renamed on some drives of its set only is at the old key on some, at the new on the
// others): the heal must leave its copies alone, for the journal's recovery completes the
// operation from them. It returns true when it cannot tell (the journal unreadable).
type IntentCheck func(ctx context.Context, bucket, key string) bool

// SetIntentCheck installs the check that the heal asks before it removes the copies of a
// key it finds dangling (the pool installs its journal's). Without one, nothing is pending.
// Safe to call while the set heals.
func (s *Set) SetIntentCheck(check IntentCheck) {
	if check == nil {
		s.intents.Store(nil)
		return
	}
	s.intents.Store(&check)
}

// pendingIntent asks the installed IntentCheck about bucket/key.
func (s *Set) pendingIntent(ctx context.Context, bucket, key string) bool {
	check := s.intents.Load()
	return check != nil && (*check)(ctx, bucket, key)
}
