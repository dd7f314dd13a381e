//go:build amd64 && !purego

package xts

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

// rounds is the number of AES-256 rounds.
const rounds = 14

// roundKeys is an expanded AES-256 key: 15 round keys of 16 bytes.
type roundKeys [rounds + 1][BlockSize]byte

// asmKeys holds the expanded keys of the assembly paths: enc1 and dec1 for
// the data (dec1 in the order AESDEC wants: reversed, InvMixColumns applied),
// enc2 for the tweak.
type asmKeys struct {
	enc1, dec1, enc2 roundKeys
}

// vaesBlocks is the batch of the VAES path: 8 YMM registers of 2 blocks.
const vaesBlocks = 16

var (
	hasAESNI = cpu.X86.HasAES && cpu.X86.HasSSE2
	hasVAES  = hasAESNI && cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ && hasVAESPCLMUL()
)

// hasVAESPCLMUL reports the VEX-encoded VAES and VPCLMULQDQ of CPUID leaf 7
// (ECX bits 9 and 10). x/sys/cpu only reports them together with AVX-512,
// but the 256-bit forms need only AVX (OS support for YMM is part of HasAVX2).
func hasVAESPCLMUL() bool {
	if maxID, _, _, _ := cpuid(0, 0); maxID < 7 {
		return false
	}
	_, _, ecx, _ := cpuid(7, 0)
	return ecx&(1<<9) != 0 && ecx&(1<<10) != 0
}

func implementations() []implementation {
	switch {
	case hasVAES:
		return []implementation{implVAES, implAESNI, implGo}
	case hasAESNI:
		return []implementation{implAESNI, implGo}
	}
	return []implementation{implGo}
}

func bestImplementation() implementation { return implementations()[0] }

// expand computes the round keys of both halves of key.
func (k *asmKeys) expand(key []byte) {
	expandKey256(&key[0], &k.enc1, &k.dec1)
	expandKey256(&key[halfKeySize], &k.enc2, nil)
}

// wipe zeroes the round keys.
func (k *asmKeys) wipe() {
	clear(k.enc1[:])
	clear(k.dec1[:])
	clear(k.enc2[:])
}

// crypt runs the implementation of c over dst and src (same length, a
// multiple of 16, dst is src or disjoint from it).
func (c *Cipher) crypt(dst, src []byte, sector uint64, decrypt bool) {
	if c.impl == implGo {
		c.cryptGo(dst, src, sector, decrypt)
		return
	}
	var tweak [BlockSize]byte
	binary.LittleEndian.PutUint64(tweak[:8], sector)
	encryptBlock(&c.asm.enc2, &tweak, &tweak)
	keys := &c.asm.enc1
	if decrypt {
		keys = &c.asm.dec1
	}
	n := len(src) / BlockSize
	if c.impl == implVAES && n >= vaesBlocks {
		// The VAES loop does whole batches and leaves the next tweak in
		// tweak; the AES-NI loop does the rest.
		m := n &^ (vaesBlocks - 1)
		if decrypt {
			xtsDecryptVAES(keys, &dst[0], &src[0], m, &tweak)
		} else {
			xtsEncryptVAES(keys, &dst[0], &src[0], m, &tweak)
		}
		if m == n {
			return
		}
		dst, src, n = dst[m*BlockSize:], src[m*BlockSize:], n-m
	}
	if decrypt {
		xtsDecryptAESNI(keys, &dst[0], &src[0], n, &tweak)
	} else {
		xtsEncryptAESNI(keys, &dst[0], &src[0], n, &tweak)
	}
}

// Implemented in xts_amd64.s.

// cpuid executes CPUID with EAX=leaf, ECX=sub.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// expandKey256 expands the 32-byte AES key at key into enc and, if dec is
// not nil, into the decryption schedule dec.
//
//go:noescape
func expandKey256(key *byte, enc, dec *roundKeys)

// encryptBlock encrypts one block with AES-256.
//
//go:noescape
func encryptBlock(xk *roundKeys, dst, src *[BlockSize]byte)

// xtsEncryptAESNI encrypts n blocks from src to dst; tweak is the first
// (already encrypted) tweak. dst == src is allowed.
//
//go:noescape
func xtsEncryptAESNI(xk *roundKeys, dst, src *byte, n int, tweak *[BlockSize]byte)

// xtsDecryptAESNI decrypts n blocks with the decryption schedule xk.
//
//go:noescape
func xtsDecryptAESNI(xk *roundKeys, dst, src *byte, n int, tweak *[BlockSize]byte)

// xtsEncryptVAES encrypts n blocks, n a non-zero multiple of 16, and stores
// the tweak of block n in tweak.
//
//go:noescape
func xtsEncryptVAES(xk *roundKeys, dst, src *byte, n int, tweak *[BlockSize]byte)

// xtsDecryptVAES decrypts n blocks, n a non-zero multiple of 16, and stores
// the tweak of block n in tweak.
//
//go:noescape
func xtsDecryptVAES(xk *roundKeys, dst, src *byte, n int, tweak *[BlockSize]byte)
