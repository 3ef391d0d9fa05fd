#include "textflag.h"

// func signWordsAVX2(x *float32, a *float32, b *float32, words int, period int, dst *uint64)
//
// For each of words 64-float blocks of x, dst[w] has bit k set where
// a[off+k]·x[64w+k] + b[off+k] (float32, rounded after each operation)
// has its sign bit set; off runs over the period (floats, a multiple of 64)
// in steps of 64. Each word is eight groups of 8 floats, whose sign masks
// (VMOVMSKPS) are shifted into place. Registers: SI x, R8 a, R9 b, R10 the
// period in bytes, BX words left, DI dst, R11 the byte offset in the
// period, DX the word, CX the group's shift, AX its mask.
TEXT ·signWordsAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ a+8(FP), R8
	MOVQ b+16(FP), R9
	MOVQ words+24(FP), BX
	MOVQ period+32(FP), R10
	MOVQ dst+40(FP), DI
	SHLQ $2, R10
	XORQ R11, R11
	TESTQ BX, BX
	JLE done

word:
	XORQ DX, DX
	XORQ CX, CX

group:
	VMOVUPS (SI), Y0
	VMULPS (R8)(R11*1), Y0, Y0
	VADDPS (R9)(R11*1), Y0, Y0
	VMOVMSKPS Y0, AX
	SHLQ CX, AX
	ORQ AX, DX
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $8, CX
	CMPQ CX, $64
	JLT group

	MOVQ DX, (DI)
	ADDQ $8, DI
	CMPQ R11, R10
	JLT next
	XORQ R11, R11

next:
	DECQ BX
	JNZ word

done:
	VZEROUPPER
	RET
