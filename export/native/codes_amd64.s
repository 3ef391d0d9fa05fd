#include "textflag.h"

// func signWordsAVX2(x *float32, a *float32, b *float32, words int, period int, dst *uint64)
//
// For each of words 64-float blocks of x, dst[w] has bit k set where
// a[off+k]·x[64w+k] + b[off+k] (float32, rounded after each operation)
// has its sign bit set; off runs over the period (floats, a multiple of 64)
// in steps of 64. Registers: SI x, R8 a, R9 b, R10 a's end, CX words,
// DI dst, R11 the period's offset, DX the word, AX a mask.
TEXT ·signWordsAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ a+8(FP), R8
	MOVQ b+16(FP), R9
	MOVQ words+24(FP), CX
	MOVQ period+32(FP), R10
	MOVQ dst+40(FP), DI
	SHLQ $2, R10
	XORQ R11, R11
	TESTQ CX, CX
	JLE done

word:
	XORQ DX, DX
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMULPS 0(R8)(R11*1), Y0, Y0
	VMULPS 32(R8)(R11*1), Y1, Y1
	VMULPS 64(R8)(R11*1), Y2, Y2
	VMULPS 96(R8)(R11*1), Y3, Y3
	VADDPS 0(R9)(R11*1), Y0, Y0
	VADDPS 32(R9)(R11*1), Y1, Y1
	VADDPS 64(R9)(R11*1), Y2, Y2
	VADDPS 96(R9)(R11*1), Y3, Y3
	VMOVMSKPS Y0, AX
	ORQ AX, DX
	VMOVMSKPS Y1, AX
	SHLQ $8, AX
	ORQ AX, DX
	VMOVMSKPS Y2, AX
	SHLQ $16, AX
	ORQ AX, DX
	VMOVMSKPS Y3, AX
	SHLQ $24, AX
	ORQ AX, DX
	VMOVUPS 128(SI), Y4
	VMOVUPS 160(SI), Y5
	VMOVUPS 192(SI), Y6
	VMOVUPS 224(SI), Y7
	VMULPS 128(R8)(R11*1), Y4, Y4
	VMULPS 160(R8)(R11*1), Y5, Y5
	VMULPS 192(R8)(R11*1), Y6, Y6
	VMULPS 224(R8)(R11*1), Y7, Y7
	VADDPS 128(R9)(R11*1), Y4, Y4
	VADDPS 160(R9)(R11*1), Y5, Y5
	VADDPS 192(R9)(R11*1), Y6, Y6
	VADDPS 224(R9)(R11*1), Y7, Y7
	VMOVMSKPS Y4, AX
	SHLQ $32, AX
	ORQ AX, DX
	VMOVMSKPS Y5, AX
	SHLQ $40, AX
	ORQ AX, DX
	VMOVMSKPS Y6, AX
	SHLQ $48, AX
	ORQ AX, DX
	VMOVMSKPS Y7, AX
	SHLQ $56, AX
	ORQ AX, DX
	MOVQ DX, (DI)
	ADDQ $256, SI
	ADDQ $8, DI
	ADDQ $256, R11
	CMPQ R11, R10
	JLT next
	XORQ R11, R11
next:
	DECQ CX
	JNZ word

done:
	VZEROUPPER
	RET
