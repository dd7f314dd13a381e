package xts

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// batchBytes is how much data the go-batched path whitens per round of
// tweak computation: one 4 KiB sector, so its tweak buffer stays on the stack.
const batchBytes = SectorSize

// tweakStart returns the first tweak of a sector: the sector number as a
// little-endian uint64 in a zero block, encrypted with the tweak key.
//
// The block is encrypted in scratch, the first block of dst: a slice of a
// stack array passed to a cipher.Block (an interface) would escape to the
// heap, one allocation per sector. The first block of src is saved on the
// stack and put back, so this works in place; dst is overwritten later.
func tweakStart(k2 cipher.Block, scratch, src []byte, sector uint64) (lo, hi uint64) {
	var first, t [BlockSize]byte
	copy(first[:], src)
	binary.LittleEndian.PutUint64(t[:8], sector)
	copy(scratch[:BlockSize], t[:])
	k2.Encrypt(scratch[:BlockSize], scratch[:BlockSize])
	lo = binary.LittleEndian.Uint64(scratch[:8])
	hi = binary.LittleEndian.Uint64(scratch[8:BlockSize])
	copy(scratch[:BlockSize], first[:])
	return lo, hi
}

// mul2 multiplies the tweak (lo, hi), a little-endian 128-bit number, by x
// in GF(2^128) modulo x^128 + x^7 + x^2 + x + 1.
func mul2(lo, hi uint64) (uint64, uint64) {
	carry := hi >> 63
	hi = hi<<1 | lo>>63
	lo = lo<<1 ^ 0x87&-carry
	return lo, hi
}

// fillTweaks writes the tweaks of len(tw)/16 consecutive blocks, starting
// with (lo, hi), and returns the tweak of the block after them.
func fillTweaks(tw []byte, lo, hi uint64) (uint64, uint64) {
	for i := 0; i+BlockSize <= len(tw); i += BlockSize {
		binary.LittleEndian.PutUint64(tw[i:], lo)
		binary.LittleEndian.PutUint64(tw[i+8:], hi)
		lo, hi = mul2(lo, hi)
	}
	return lo, hi
}

// cryptGo is the go-batched path: per 4 KiB, compute all tweaks, whiten the
// data with XORBytes, run AES one block at a time in place, whiten again.
// len(dst) == len(src), a multiple of 16; dst is src or disjoint from it.
func (c *Cipher) cryptGo(dst, src []byte, sector uint64, decrypt bool) {
	var buf [batchBytes]byte
	lo, hi := tweakStart(c.k2, dst, src, sector)
	for len(src) > 0 {
		n := min(len(src), len(buf))
		tw, d := buf[:n], dst[:n]
		lo, hi = fillTweaks(tw, lo, hi)
		subtle.XORBytes(d, src[:n], tw)
		if decrypt {
			for i := 0; i < n; i += BlockSize {
				c.k1.Decrypt(d[i:i+BlockSize], d[i:i+BlockSize])
			}
		} else {
			for i := 0; i < n; i += BlockSize {
				c.k1.Encrypt(d[i:i+BlockSize], d[i:i+BlockSize])
			}
		}
		subtle.XORBytes(d, d, tw)
		src, dst = src[n:], dst[n:]
	}
}
