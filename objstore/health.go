package objstore

// SetHealth is how many drives of one erasure set are usable, beside its quorums: below
// ReadQuorum its objects answer ErrReadQuorum, below WriteQuorum its writes answer
// ErrWriteQuorum, below Drives it is degraded (it serves, with less redundancy).
type SetHealth struct {
	Set, Drives, Usable     int
	ReadQuorum, WriteQuorum int
	// LeftOut names the drives left out of the start (their format record could not be
	// used) and not brought back yet.
	LeftOut []string
}

// HealthReporter is an object layer that reports its erasure sets' health without drive
// I/O, so that health endpoints can say which sets are degraded at every probe.
type HealthReporter interface {
	SetHealth() []SetHealth
}
