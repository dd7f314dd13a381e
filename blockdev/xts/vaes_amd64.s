//go:build amd64 && !purego

#include "textflag.h"

// XTS with VAES on YMM registers (AVX2 + VAES + VPCLMULQDQ, VEX encoded, no
// AVX-512). Each YMM register holds two consecutive blocks; 8 registers,
// 16 blocks, are in flight per loop. The 8 tweak pairs live on the stack and
// each is advanced by x^16 per loop, independently of the others: a 2-byte
// shift of each lane and a carry-less multiply of the 16 bits shifted out by
// the polynomial (the method of Linux's aes-xts-avx-x86_64.S). A general
// shift by x^k (6 vector operations instead of 4) cost 12% of the speed: the
// vector units, not only the AES units, are the limit here.
//
// Stack frame: 0-255 the 8 tweak pairs of the current 16 blocks; 256-511 the
// same XORed with the last round key (the key of the last round, which also
// applies the output whitening).

// xtsPolyY: the reduction polynomial x^7 + x^2 + x + 1 in the low quadword of
// each 128-bit lane.
DATA xtsPolyY<>+0(SB)/8, $0x87
DATA xtsPolyY<>+8(SB)/8, $0x00
DATA xtsPolyY<>+16(SB)/8, $0x87
DATA xtsPolyY<>+24(SB)/8, $0x00
GLOBL xtsPolyY<>(SB), RODATA|NOPTR, $32

// xtsGFMaskX: as xtsGFMask in aesni_amd64.s (one doubling of an XMM tweak).
DATA xtsGFMaskX<>+0(SB)/8, $0x87
DATA xtsGFMaskX<>+8(SB)/8, $0x01
GLOBL xtsGFMaskX<>(SB), RODATA|NOPTR, $16

// MULX sets DST to SRC * x^k in each 128-bit lane, for 1 <= k <= 56, where
// rk = 64 - k; Y14 holds xtsPolyY; T1 and T2 are scratch. DST may be SRC.
#define MULX(rk, k, SRC, DST, T1, T2) \
	VPSRLQ     $rk, SRC, T1; \
	VPCLMULQDQ $0x01, Y14, T1, T2; \
	VPSLLDQ    $8, T1, T1; \
	VPSLLQ     $k, SRC, DST; \
	VPXOR      T1, DST, DST; \
	VPXOR      T2, DST, DST

// MULX16 sets DST to SRC * x^16 in each 128-bit lane: a 2-byte shift of the
// whole lane, and the 16 bits shifted out times the polynomial (Y14) XORed
// back in. DST may be SRC.
#define MULX16(SRC, DST, T1, T2) \
	VPSRLDQ    $14, SRC, T1; \
	VPSLLDQ    $2, SRC, DST; \
	VPCLMULQDQ $0x00, Y14, T1, T2; \
	VPXOR      T2, DST, DST

// PREP loads the 2 blocks at off(SI) into B as src ^ tweak ^ K0 (Y13),
// saves tweak ^ Klast (Y12) at fin(SP) and advances the tweak pair at off(SP)
// by 16 blocks.
#define PREP(off, fin, B) \
	VMOVDQU off(SP), Y8; \
	VPXOR   off(SI), Y8, B; \
	VPXOR   Y13, B, B; \
	VPXOR   Y12, Y8, Y9; \
	VMOVDQU Y9, fin(SP); \
	MULX16(Y8, Y8, Y9, Y10); \
	VMOVDQU Y8, off(SP)

// ROUNDY runs one round (OP) with round key off(AX) on Y0-Y7.
#define ROUNDY(OP, off) \
	VBROADCASTI128 off(AX), Y15; \
	OP             Y15, Y0, Y0; \
	OP             Y15, Y1, Y1; \
	OP             Y15, Y2, Y2; \
	OP             Y15, Y3, Y3; \
	OP             Y15, Y4, Y4; \
	OP             Y15, Y5, Y5; \
	OP             Y15, Y6, Y6; \
	OP             Y15, Y7, Y7

// FINISHY runs the last round (OPLAST) of B with key fin(SP) and stores B
// at off(DI).
#define FINISHY(OPLAST, off, fin, B) \
	OPLAST  fin(SP), B, B; \
	VMOVDQU B, off(DI)

// VAES_SETUP loads the arguments, computes the first 8 tweak pairs
// (T*x^0 .. T*x^15) onto the stack and broadcasts K0 (Y13) and Klast (Y12).
#define VAES_SETUP \
	MOVQ           xk+0(FP), AX; \
	MOVQ           dst+8(FP), DI; \
	MOVQ           src+16(FP), SI; \
	MOVQ           n+24(FP), CX; \
	MOVQ           tweak+32(FP), DX; \
	VMOVDQU        (DX), X8; \
	VMOVDQU        xtsGFMaskX<>(SB), X10; \
	VPSHUFD        $0x13, X8, X11; \
	VPADDQ         X8, X8, X9; \
	VPSRAD         $31, X11, X11; \
	VPAND          X10, X11, X11; \
	VPXOR          X11, X9, X9; \
	VINSERTI128    $1, X9, Y8, Y8; \
	VMOVDQU        xtsPolyY<>(SB), Y14; \
	VMOVDQU        Y8, 0(SP); \
	MULX(62, 2, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 32(SP); \
	MULX(60, 4, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 64(SP); \
	MULX(58, 6, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 96(SP); \
	MULX(56, 8, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 128(SP); \
	MULX(54, 10, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 160(SP); \
	MULX(52, 12, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 192(SP); \
	MULX(50, 14, Y8, Y9, Y10, Y11); \
	VMOVDQU        Y9, 224(SP); \
	VBROADCASTI128 0(AX), Y13; \
	VBROADCASTI128 224(AX), Y12

#define VAES_PREP8 \
	PREP(0, 256, Y0); \
	PREP(32, 288, Y1); \
	PREP(64, 320, Y2); \
	PREP(96, 352, Y3); \
	PREP(128, 384, Y4); \
	PREP(160, 416, Y5); \
	PREP(192, 448, Y6); \
	PREP(224, 480, Y7)

#define VAES_ROUNDS(OP) \
	ROUNDY(OP, 16); \
	ROUNDY(OP, 32); \
	ROUNDY(OP, 48); \
	ROUNDY(OP, 64); \
	ROUNDY(OP, 80); \
	ROUNDY(OP, 96); \
	ROUNDY(OP, 112); \
	ROUNDY(OP, 128); \
	ROUNDY(OP, 144); \
	ROUNDY(OP, 160); \
	ROUNDY(OP, 176); \
	ROUNDY(OP, 192); \
	ROUNDY(OP, 208)

#define VAES_FINISH8(OPLAST) \
	FINISHY(OPLAST, 0, 256, Y0); \
	FINISHY(OPLAST, 32, 288, Y1); \
	FINISHY(OPLAST, 64, 320, Y2); \
	FINISHY(OPLAST, 96, 352, Y3); \
	FINISHY(OPLAST, 128, 384, Y4); \
	FINISHY(OPLAST, 160, 416, Y5); \
	FINISHY(OPLAST, 192, 448, Y6); \
	FINISHY(OPLAST, 224, 480, Y7)

// VAES_DONE stores the next tweak (the low lane of the first pair), wipes the
// round keys from the registers and the stack and leaves AVX state clean.
#define VAES_DONE \
	VMOVDQU 0(SP), X8; \
	VMOVDQU X8, (DX); \
	VPXOR   Y12, Y12, Y12; \
	VPXOR   Y13, Y13, Y13; \
	VPXOR   Y15, Y15, Y15; \
	VMOVDQU Y15, 256(SP); \
	VMOVDQU Y15, 288(SP); \
	VMOVDQU Y15, 320(SP); \
	VMOVDQU Y15, 352(SP); \
	VMOVDQU Y15, 384(SP); \
	VMOVDQU Y15, 416(SP); \
	VMOVDQU Y15, 448(SP); \
	VMOVDQU Y15, 480(SP); \
	VZEROUPPER

// func xtsEncryptVAES(xk *roundKeys, dst, src *byte, n int, tweak *[16]byte)
TEXT ·xtsEncryptVAES(SB), NOSPLIT, $512-40
	VAES_SETUP

enc_loop16:
	VAES_PREP8
	VAES_ROUNDS(VAESENC)
	VAES_FINISH8(VAESENCLAST)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $16, CX
	JNZ  enc_loop16
	VAES_DONE
	RET

// func xtsDecryptVAES(xk *roundKeys, dst, src *byte, n int, tweak *[16]byte)
TEXT ·xtsDecryptVAES(SB), NOSPLIT, $512-40
	VAES_SETUP

dec_loop16:
	VAES_PREP8
	VAES_ROUNDS(VAESDEC)
	VAES_FINISH8(VAESDECLAST)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $16, CX
	JNZ  dec_loop16
	VAES_DONE
	RET
