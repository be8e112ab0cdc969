// Package alignbuf allocates memory aligned for O_DIRECT I/O, which needs the buffer's
// address (and the file offset and length) to be multiples of the device's logical block
// size.
package alignbuf

import "unsafe"

// Align is the alignment O_DIRECT needs on the devices we run on: 4096 covers both 512-byte
// and 4 KiB logical blocks.
const Align = 4096

// Make returns a zeroed buffer of size bytes rounded up to Align, whose first byte is
// aligned to Align.
func Make(size int) []byte {
	n := (size + Align - 1) &^ (Align - 1)
	b := make([]byte, n+Align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (Align - 1))
	if off != 0 {
		off = Align - off
	}
	return b[off : off+n : off+n]
}

// Aligned reports whether b's first byte is aligned to Align.
func Aligned(b []byte) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))&(Align-1) == 0
}
