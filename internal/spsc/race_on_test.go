//go:build race

package spsc

// raceEnabled scales the stress test down: the race detector makes each atomic operation
// about ten times slower.
const raceEnabled = true
