//go:build amd64 && !purego

#include "textflag.h"

// AES-256 key expansion, one-block encryption and XTS with AES-NI on XMM
// registers (SSE2 + AES-NI only). The key expansion follows the
// AESKEYGENASSIST sequence of Go's crypto/aes (asm_amd64.s).

// xtsGFMask: for the doubling of a tweak T (a little-endian 128-bit number)
// in GF(2^128): dword 0 = 0x87 (reduction when bit 127 is set), dword 2 = 1
// (carry from bit 63 into bit 64).
DATA xtsGFMask<>+0(SB)/8, $0x87
DATA xtsGFMask<>+8(SB)/8, $0x01
GLOBL xtsGFMask<>(SB), RODATA|NOPTR, $16

// EXPAND_A computes the even round key X0 from X0 and X2 (X4[0] must be 0)
// and stores it at off(BX).
#define EXPAND_A(rcon, off) \
	AESKEYGENASSIST $rcon, X2, X1; \
	PSHUFD          $0xff, X1, X1; \
	SHUFPS          $0x10, X0, X4; \
	PXOR            X4, X0; \
	SHUFPS          $0x8c, X0, X4; \
	PXOR            X4, X0; \
	PXOR            X1, X0; \
	MOVOU           X0, off(BX)

// EXPAND_B computes the odd round key X2 from X2 and X0 and stores it.
#define EXPAND_B(off) \
	AESKEYGENASSIST $0x00, X0, X1; \
	PSHUFD          $0xaa, X1, X1; \
	SHUFPS          $0x10, X2, X4; \
	PXOR            X4, X2; \
	SHUFPS          $0x8c, X2, X4; \
	PXOR            X4, X2; \
	PXOR            X1, X2; \
	MOVOU           X2, off(BX)

// INVMIX stores InvMixColumns of enc round key at from(BX) at to(DX).
#define INVMIX(from, to) \
	MOVOU  from(BX), X1; \
	AESIMC X1, X1; \
	MOVOU  X1, to(DX)

// ROUND1 runs one AES round (OP) with round key off(AX) on X0.
#define ROUND1(OP, off) \
	MOVOU off(AX), X15; \
	OP    X15, X0

// DOUBLE multiplies the tweak T by x in GF(2^128); X9 holds xtsGFMask.
#define DOUBLE(T, TMP) \
	PSHUFD $0x13, T, TMP; \
	PADDQ  T, T; \
	PSRAL  $31, TMP; \
	PAND   X9, TMP; \
	PXOR   TMP, T

// WHITEN loads the block at off(SI) into B as src ^ tweak ^ K0 (X8 is the
// tweak, X14 the first round key), saves tweak ^ Klast (X13) at off(SP) for
// the last round, and advances the tweak.
#define WHITEN(off, B) \
	MOVOU X8, X10; \
	PXOR  X13, X10; \
	MOVOU X10, off(SP); \
	MOVOU off(SI), B; \
	PXOR  X8, B; \
	PXOR  X14, B; \
	DOUBLE(X8, X11)

// ROUND8 runs one AES round (OP) with round key off(AX) on X0-X7.
#define ROUND8(OP, off) \
	MOVOU off(AX), X15; \
	OP    X15, X0; \
	OP    X15, X1; \
	OP    X15, X2; \
	OP    X15, X3; \
	OP    X15, X4; \
	OP    X15, X5; \
	OP    X15, X6; \
	OP    X15, X7

// ROUNDS8 runs the 13 middle rounds on X0-X7.
#define ROUNDS8(OP) \
	ROUND8(OP, 16); \
	ROUND8(OP, 32); \
	ROUND8(OP, 48); \
	ROUND8(OP, 64); \
	ROUND8(OP, 80); \
	ROUND8(OP, 96); \
	ROUND8(OP, 112); \
	ROUND8(OP, 128); \
	ROUND8(OP, 144); \
	ROUND8(OP, 160); \
	ROUND8(OP, 176); \
	ROUND8(OP, 192); \
	ROUND8(OP, 208)

// ROUNDS1 runs the 13 middle rounds on X0.
#define ROUNDS1(OP) \
	ROUND1(OP, 16); \
	ROUND1(OP, 32); \
	ROUND1(OP, 48); \
	ROUND1(OP, 64); \
	ROUND1(OP, 80); \
	ROUND1(OP, 96); \
	ROUND1(OP, 112); \
	ROUND1(OP, 128); \
	ROUND1(OP, 144); \
	ROUND1(OP, 160); \
	ROUND1(OP, 176); \
	ROUND1(OP, 192); \
	ROUND1(OP, 208)

// FINISH runs the last round (OPLAST) with key tweak ^ Klast from off(SP),
// which also applies the output whitening, and stores B at off(DI).
#define FINISH(OPLAST, off, B) \
	MOVOU  off(SP), X10; \
	OPLAST X10, B; \
	MOVOU  B, off(DI)

// XTS_SETUP loads the arguments and the constants.
#define XTS_SETUP \
	MOVQ  xk+0(FP), AX; \
	MOVQ  dst+8(FP), DI; \
	MOVQ  src+16(FP), SI; \
	MOVQ  n+24(FP), CX; \
	MOVQ  tweak+32(FP), DX; \
	MOVOU (DX), X8; \
	MOVOU xtsGFMask<>(SB), X9; \
	MOVOU 0(AX), X14; \
	MOVOU 224(AX), X13

// XTS_WHITEN8 whitens the 8 blocks at SI into X0-X7.
#define XTS_WHITEN8 \
	WHITEN(0, X0); \
	WHITEN(16, X1); \
	WHITEN(32, X2); \
	WHITEN(48, X3); \
	WHITEN(64, X4); \
	WHITEN(80, X5); \
	WHITEN(96, X6); \
	WHITEN(112, X7)

// XTS_FINISH8 runs the last round of X0-X7 and stores them at DI.
#define XTS_FINISH8(OPLAST) \
	FINISH(OPLAST, 0, X0); \
	FINISH(OPLAST, 16, X1); \
	FINISH(OPLAST, 32, X2); \
	FINISH(OPLAST, 48, X3); \
	FINISH(OPLAST, 64, X4); \
	FINISH(OPLAST, 80, X5); \
	FINISH(OPLAST, 96, X6); \
	FINISH(OPLAST, 112, X7)

// XTS_WIPE clears the registers that held round keys.
#define XTS_WIPE \
	PXOR X13, X13; \
	PXOR X14, X14; \
	PXOR X15, X15

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func expandKey256(key *byte, enc, dec *roundKeys)
TEXT ·expandKey256(SB), NOSPLIT, $0-24
	MOVQ  key+0(FP), AX
	MOVQ  enc+8(FP), BX
	MOVQ  dec+16(FP), DX
	MOVOU 0(AX), X0
	MOVOU 16(AX), X2
	MOVOU X0, 0(BX)
	MOVOU X2, 16(BX)
	PXOR  X4, X4
	EXPAND_A(0x01, 32)
	EXPAND_B(48)
	EXPAND_A(0x02, 64)
	EXPAND_B(80)
	EXPAND_A(0x04, 96)
	EXPAND_B(112)
	EXPAND_A(0x08, 128)
	EXPAND_B(144)
	EXPAND_A(0x10, 160)
	EXPAND_B(176)
	EXPAND_A(0x20, 192)
	EXPAND_B(208)
	EXPAND_A(0x40, 224)
	TESTQ DX, DX
	JZ    expand_done

	// Decryption schedule: round keys in reverse order, InvMixColumns
	// applied to all but the first and the last.
	MOVOU 224(BX), X1
	MOVOU X1, 0(DX)
	INVMIX(208, 16)
	INVMIX(192, 32)
	INVMIX(176, 48)
	INVMIX(160, 64)
	INVMIX(144, 80)
	INVMIX(128, 96)
	INVMIX(112, 112)
	INVMIX(96, 128)
	INVMIX(80, 144)
	INVMIX(64, 160)
	INVMIX(48, 176)
	INVMIX(32, 192)
	INVMIX(16, 208)
	MOVOU 0(BX), X1
	MOVOU X1, 224(DX)

expand_done:
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	PXOR X4, X4
	RET

// func encryptBlock(xk *roundKeys, dst, src *[16]byte)
TEXT ·encryptBlock(SB), NOSPLIT, $0-24
	MOVQ  xk+0(FP), AX
	MOVQ  dst+8(FP), DI
	MOVQ  src+16(FP), SI
	MOVOU (SI), X0
	MOVOU 0(AX), X15
	PXOR  X15, X0
	ROUND1(AESENC, 16)
	ROUND1(AESENC, 32)
	ROUND1(AESENC, 48)
	ROUND1(AESENC, 64)
	ROUND1(AESENC, 80)
	ROUND1(AESENC, 96)
	ROUND1(AESENC, 112)
	ROUND1(AESENC, 128)
	ROUND1(AESENC, 144)
	ROUND1(AESENC, 160)
	ROUND1(AESENC, 176)
	ROUND1(AESENC, 192)
	ROUND1(AESENC, 208)
	ROUND1(AESENCLAST, 224)
	MOVOU X0, (DI)
	PXOR  X15, X15
	RET

// func xtsEncryptAESNI(xk *roundKeys, dst, src *byte, n int, tweak *[16]byte)
TEXT ·xtsEncryptAESNI(SB), NOSPLIT, $128-40
	XTS_SETUP
	CMPQ CX, $8
	JB   enc_tail

enc_loop8:
	XTS_WHITEN8
	ROUNDS8(AESENC)
	XTS_FINISH8(AESENCLAST)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JAE  enc_loop8

enc_tail:
	TESTQ CX, CX
	JZ    enc_done

enc_loop1:
	WHITEN(0, X0)
	ROUNDS1(AESENC)
	FINISH(AESENCLAST, 0, X0)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  enc_loop1

enc_done:
	XTS_WIPE
	RET

// func xtsDecryptAESNI(xk *roundKeys, dst, src *byte, n int, tweak *[16]byte)
TEXT ·xtsDecryptAESNI(SB), NOSPLIT, $128-40
	XTS_SETUP
	CMPQ CX, $8
	JB   dec_tail

dec_loop8:
	XTS_WHITEN8
	ROUNDS8(AESDEC)
	XTS_FINISH8(AESDECLAST)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $8, CX
	CMPQ CX, $8
	JAE  dec_loop8

dec_tail:
	TESTQ CX, CX
	JZ    dec_done

dec_loop1:
	WHITEN(0, X0)
	ROUNDS1(AESDEC)
	FINISH(AESDECLAST, 0, X0)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  dec_loop1

dec_done:
	XTS_WIPE
	RET
