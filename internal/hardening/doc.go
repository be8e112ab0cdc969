// Package hardening has no code: its test runs scripts/build.sh, the hardened build, and
// scripts/check-hardening.sh on the result, and checks that the checker rejects binaries
// built without the hardening.
package hardening
