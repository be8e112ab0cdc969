//go:build linux && !cgo

package privsep

// cgoConstructor reports that no C constructor sets no_new_privs: syscall.AllThreadsSyscall
// does it instead.
const cgoConstructor = false
