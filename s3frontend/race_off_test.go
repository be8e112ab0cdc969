//go:build !race

package s3frontend_test

// raceEnabled tells the tests that the race detector slows everything down.
const raceEnabled = false
