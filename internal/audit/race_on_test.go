//go:build race

package audit

// raceEnabled scales the load tests down: the race detector makes memory accesses
// and atomic operations about ten times slower.
const raceEnabled = true
