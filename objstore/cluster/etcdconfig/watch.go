package etcdconfig

import "github.com/flashstor/flashstor/objstore/cluster/etcdwatch"

// WatchConfig tells Buckets.Watch and Document.Watch what to report besides the changes:
// errors, the retry wait and the heartbeat (package etcdwatch, whose loop they run).
// OnKey and OnReset are set by the Watch called.
type WatchConfig = etcdwatch.Config
