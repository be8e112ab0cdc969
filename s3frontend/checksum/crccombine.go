package checksum

import "hash/crc32"

// crcModel describes a reflected CRC whose initial value and final xor are all ones (CRC32,
// CRC32C and CRC64NVME all are), which is what makes CRC(A||B) computable from CRC(A),
// CRC(B) and len(B) alone. The arithmetic is the polynomial arithmetic modulo the generator
// that zlib's crc32_combine uses, generalised to 64-bit CRCs.
type crcModel struct {
	poly  uint64     // generator, bit-reversed
	top   uint64     // the bit that stands for x^0 in the reflected representation
	x2n   [64]uint64 // x2n[k] = x^(2^k) mod poly; immutable after newCRCModel
	width uint
}

func newCRCModel(poly uint64, width uint) *crcModel {
	m := &crcModel{poly: poly, top: 1 << (width - 1), width: width}
	p := m.top >> 1 // x^1
	for k := range m.x2n {
		m.x2n[k] = p
		p = m.multmodp(p, p)
	}
	return m
}

// multmodp returns a(x) * b(x) mod poly.
func (m *crcModel) multmodp(a, b uint64) uint64 {
	if a == 0 {
		return 0
	}
	var p uint64
	for bit := m.top; ; bit >>= 1 {
		if a&bit != 0 {
			p ^= b
			if a&(bit-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ m.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nmodp returns x^(n * 2^k) mod poly.
func (m *crcModel) x2nmodp(n uint64, k uint) uint64 {
	p := m.top // x^0
	for n != 0 {
		if n&1 != 0 {
			p = m.multmodp(m.x2n[k%m.width], p)
		}
		n >>= 1
		k++
	}
	return p
}

// combine returns the CRC of A||B given crcA = CRC(A), crcB = CRC(B) and lenB = len(B).
func (m *crcModel) combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	// Appending lenB bytes multiplies A's contribution by x^(8*lenB) = x^(lenB * 2^3).
	return m.multmodp(m.x2nmodp(uint64(lenB), 3), crcA) ^ crcB
}

// The models are immutable once built.
var (
	crc32Model     = newCRCModel(uint64(crc32.IEEE), 32)
	crc32cModel    = newCRCModel(uint64(crc32.Castagnoli), 32)
	crc64NVMEModel = newCRCModel(crc64NVMEPoly, 64)
)

func (a Algorithm) crcModel() *crcModel {
	switch a {
	case CRC32:
		return crc32Model
	case CRC32C:
		return crc32cModel
	case CRC64NVME:
		return crc64NVMEModel
	}
	return nil
}

// crcValue reads the big-endian CRC held in v (S3 sends CRCs big-endian, as hash/crc32 and
// hash/crc64 produce them).
func (v *Value) crcValue() uint64 {
	var x uint64
	for _, b := range v.Raw() {
		x = x<<8 | uint64(b)
	}
	return x
}

func crcToValue(a Algorithm, x uint64) Value {
	v := Value{Algorithm: a}
	n := a.Size()
	for i := n - 1; i >= 0; i-- {
		v.raw[i] = byte(x)
		x >>= 8
	}
	return v
}
