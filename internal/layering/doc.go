// Package layering holds the test that keeps DESIGN.md's import rules true: dependencies point
// one way (cmd -> faces -> objstore -> erasure), a face never imports the other face, and
// internal/ imports neither a face nor the core. The rules are checked against `go list` of the
// whole module, test imports included, so a violation fails `go test ./...` in CI.
package layering
