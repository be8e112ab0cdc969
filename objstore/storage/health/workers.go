package health

// job is what a drive's workers run: one bounded call.
type job interface{ run() }

// runJob runs j on a worker.
func runJob(j job) { j.run() }
