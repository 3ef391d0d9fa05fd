//go:build ignore

// asm_gen writes kernels_amd64.s: the AVX2 and AVX-512 kernels, each tile
// or depthwise kernel in two variants that differ only in how a product
// is accumulated: with one fused multiply-add ("FMA"), or with a rounded
// multiply then an add ("Exact"), which rounds exactly as the reference
// forward pass's float32 loops (export.ForwardBatchStats). Run it with
// go generate.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }
func comment(s string)             { fmt.Fprintf(&out, "\n// %s\n", s) }

// mac accumulates src·bc into acc (tmp is scratch for the exact form).
// src may be a memory operand.
func mac(fma bool, src, bc, acc, tmp string) {
	if fma {
		p("VFMADD231PS %s, %s, %s", src, bc, acc)
		return
	}
	p("VMULPS %s, %s, %s", src, bc, tmp)
	p("VADDPS %s, %s, %s", tmp, acc, acc)
}

// zero clears a vector register (VPXORD: VXORPS on Z needs AVX512DQ).
func zero(r string) {
	if r[0] == 'Z' {
		p("VPXORD %s, %s, %s", r, r, r)
		return
	}
	p("VXORPS %s, %s, %s", r, r, r)
}

func variant(fma bool) string {
	if fma {
		return "FMA"
	}
	return "Exact"
}

// gemmHeader starts a tile kernel: k in CX, a in SI, lda in R8 and ldc
// in R9 (both in bytes), 3·lda in R11, b in DI, c in DX, and the last
// argument in R10.
func gemmHeader(name, last string) {
	comment(fmt.Sprintf("func %s(k int, a *float32, lda int, b *float32, c *float32, ldc int, %s int)", name, last))
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ lda+16(FP), R8")
	p("MOVQ b+24(FP), DI")
	p("MOVQ c+32(FP), DX")
	p("MOVQ ldc+40(FP), R9")
	p("MOVQ %s+48(FP), R10", last)
	p("SHLQ $2, R8")
	p("SHLQ $2, R9")
	p("LEAQ (R8)(R8*2), R11")
}

// gemm6x16AVX2 computes a 6x16 tile: c[i][j] = Σ_t a[i*lda+t]·b[t*16+j];
// with half set only columns 0..7 are stored.
func gemm6x16AVX2(fma bool) {
	gemmHeader("gemm6x16AVX2"+variant(fma), "half")
	p("LEAQ (SI)(R11*1), R12")
	for i := range 12 {
		p("VXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	p("TESTQ CX, CX")
	p("JLE store")
	label("loop")
	p("VMOVUPS (DI), Y12")
	p("VMOVUPS 32(DI), Y13")
	rows := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(R12)", "(R12)(R8*1)", "(R12)(R8*2)"}
	for i, r := range rows {
		p("VBROADCASTSS %s, Y14", r)
		mac(fma, "Y12", "Y14", fmt.Sprintf("Y%d", 2*i), "Y15")
		mac(fma, "Y13", "Y14", fmt.Sprintf("Y%d", 2*i+1), "Y15")
	}
	p("ADDQ $4, SI")
	p("ADDQ $4, R12")
	p("ADDQ $64, DI")
	p("DECQ CX")
	p("JNZ loop")
	label("store")
	p("TESTQ R10, R10")
	p("JNZ storehalf")
	for i := range 6 {
		p("VMOVUPS Y%d, (DX)", 2*i)
		p("VMOVUPS Y%d, 32(DX)", 2*i+1)
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
	label("storehalf")
	for i := range 6 {
		p("VMOVUPS Y%d, (DX)", 2*i)
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
}

// gemm12AVX512 computes a 12 x (16·vecs) tile; the last vector's store is
// masked by mask (16 bits).
func gemm12AVX512(fma bool, vecs int) {
	gemmHeader(fmt.Sprintf("gemm12x%dAVX512%s", 16*vecs, variant(fma)), "mask")
	p("KMOVW R10, K1")
	p("LEAQ (SI)(R8*4), R12")
	p("LEAQ (R12)(R8*4), R13")
	nacc := 12 * vecs
	for i := range nacc {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	bReg := func(v int) string { return fmt.Sprintf("Z%d", nacc+v) }
	bc := fmt.Sprintf("Z%d", nacc+vecs)
	tmp := func(v int) string { return fmt.Sprintf("Z%d", nacc+vecs+1+v) }
	p("TESTQ CX, CX")
	p("JLE store")
	label("loop")
	for v := range vecs {
		p("VMOVUPS %d(DI), %s", 64*v, bReg(v))
	}
	var rows []string
	for _, base := range []string{"SI", "R12", "R13"} {
		rows = append(rows, "("+base+")", "("+base+")(R8*1)", "("+base+")(R8*2)", "("+base+")(R11*1)")
	}
	for i, r := range rows {
		p("VBROADCASTSS %s, %s", r, bc)
		for v := range vecs {
			mac(fma, bReg(v), bc, fmt.Sprintf("Z%d", vecs*i+v), tmp(v))
		}
	}
	p("ADDQ $4, SI")
	p("ADDQ $4, R12")
	p("ADDQ $4, R13")
	p("ADDQ $%d, DI", 64*vecs)
	p("DECQ CX")
	p("JNZ loop")
	label("store")
	for i := range 12 {
		for v := range vecs {
			if v == vecs-1 {
				p("VMOVUPS Z%d, K1, %d(DX)", vecs*i+v, 64*v)
			} else {
				p("VMOVUPS Z%d, %d(DX)", vecs*i+v, 64*v)
			}
		}
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
}

// Offsets of dwArgs's fields.
const (
	dwPlane    = 0
	dwPlaneRow = 8
	dwW        = 16
	dwOut      = 24
	dwOR       = 32
	dwOP       = 40
	dwOH       = 48
	dwOW       = 56
	dwK        = 64
	dwPix      = 72
	dwRowStep  = 80
	dwPixIn    = 88
	dwOutRow   = 96
)

// dw writes a depthwise kernel for one channel chunk of one vector (8
// floats with AVX2's Y registers, 16 with AVX-512's Z) over a band whose
// pixels are dwPix bytes apart. Each output row is covered by blocks of 8
// output pixels (rows of fewer than 8 by blocks of 4, rows of fewer than 4
// pixel by pixel), the last block moved back to end at the row's end: its
// overlap is recomputed and rewritten identically, so that every output
// has independent accumulators and rounds as the reference's loop over
// taps. Registers: AX args (its outRow and oh fields are advanced in
// place; outRow is a uintptr, so the pointer it holds past the last row
// is never seen by the garbage collector), BX pixels left in the row, CX
// window row, DX weights, SI block input, DI output, R8 input row, R9
// plane row bytes, R10 input bytes per output pixel (S), R11 3·S, R12 the
// block's fifth output's input, R13 ky counter, R14 kx counter, R15 kx
// input pointer.
func dw(fma bool, zmm bool) {
	reg, bytes, isa := "Y", 32, "AVX2"
	if zmm {
		reg, bytes, isa = "Z", 64, "AVX512"
	}
	name := "dw" + isa + variant(fma)
	v := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
	comment(fmt.Sprintf("func %s(args *dwArgs)", name))
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	p("MOVQ args+0(FP), AX")
	p("MOVQ %d(AX), R8", dwPlane)
	p("MOVQ %d(AX), R9", dwPlaneRow)
	p("MOVQ %d(AX), R10", dwPixIn)
	p("LEAQ (R10)(R10*2), R11")
	p("MOVQ %d(AX), R13", dwOut)
	p("MOVQ R13, %d(AX)", dwOutRow)
	label("row")
	p("MOVQ %d(AX), BX", dwOW)
	p("MOVQ R8, SI")
	p("MOVQ %d(AX), DI", dwOutRow)
	addrs := []string{"(R15)", "(R15)(R10*1)", "(R15)(R10*2)", "(R15)(R11*1)", "(R12)", "(R12)(R10*1)", "(R12)(R10*2)", "(R12)(R11*1)"}
	block := func(w int, next string) {
		pre := fmt.Sprintf("b%d", w)
		label(pre)
		for j := range w {
			zero(v(j))
		}
		p("MOVQ %d(AX), DX", dwW)
		p("MOVQ SI, CX")
		p("MOVQ %d(AX), R13", dwK)
		label(pre + "ky")
		p("MOVQ %d(AX), R14", dwK)
		p("MOVQ CX, R15")
		label(pre + "kx")
		p("VMOVUPS (DX), %s", v(8))
		if w > 4 {
			p("LEAQ (R15)(R10*4), R12")
		}
		for j := range w {
			mac(fma, addrs[j], v(8), v(j), v(9+j%4))
		}
		p("ADDQ $%d, DX", bytes)
		p("ADDQ %d(AX), R15", dwPix)
		p("DECQ R14")
		p("JNZ %skx", pre)
		p("ADDQ R9, CX")
		p("DECQ R13")
		p("JNZ %sky", pre)
		p("MOVQ %d(AX), R13", dwOP)
		for j := range w {
			p("VMOVUPS %s, (DI)", v(j))
			p("ADDQ R13, DI")
		}
		if w == 8 {
			p("LEAQ (SI)(R10*8), SI")
		} else {
			p("LEAQ (SI)(R10*4), SI")
		}
		p("SUBQ $%d, BX", w)
		p("CMPQ BX, $%d", w)
		p("JGE %s", pre)
		p("TESTQ BX, BX")
		p("JZ nextrow")
		// Move back by w−BX pixels for one last, overlapping block.
		p("MOVQ $%d, R14", w)
		p("SUBQ BX, R14")
		p("MOVQ R14, R13")
		p("IMULQ R10, R13")
		p("SUBQ R13, SI")
		p("IMULQ %d(AX), R14", dwOP)
		p("SUBQ R14, DI")
		p("MOVQ $%d, BX", w)
		p("JMP %s", pre)
	}
	p("CMPQ BX, $8")
	p("JLT small")
	block(8, "")
	label("small")
	p("CMPQ BX, $4")
	p("JLT tail")
	block(4, "")
	label("tail")
	p("TESTQ BX, BX")
	p("JZ nextrow")
	zero(v(0))
	p("MOVQ %d(AX), DX", dwW)
	p("MOVQ SI, CX")
	p("MOVQ %d(AX), R13", dwK)
	label("tky")
	p("MOVQ %d(AX), R14", dwK)
	p("MOVQ CX, R15")
	label("tkx")
	p("VMOVUPS (DX), %s", v(8))
	mac(fma, "(R15)", v(8), v(0), v(9))
	p("ADDQ $%d, DX", bytes)
	p("ADDQ %d(AX), R15", dwPix)
	p("DECQ R14")
	p("JNZ tkx")
	p("ADDQ R9, CX")
	p("DECQ R13")
	p("JNZ tky")
	p("VMOVUPS %s, (DI)", v(0))
	p("ADDQ %d(AX), DI", dwOP)
	p("ADDQ R10, SI")
	p("DECQ BX")
	p("JMP tail")
	label("nextrow")
	p("ADDQ %d(AX), R8", dwRowStep)
	p("MOVQ %d(AX), R13", dwOR)
	p("ADDQ R13, %d(AX)", dwOutRow)
	p("DECQ %d(AX)", dwOH)
	p("JNZ row")
	p("VZEROUPPER")
	p("RET")
}

// Offsets of tfArgs's fields.
const (
	tfDst  = 0
	tfDR   = 8
	tfDP   = 16
	tfSrc  = 24
	tfSR   = 32
	tfSP   = 40
	tfRows = 48
	tfCols = 56
	tfN    = 64
	tfM    = 72
	tfInv  = 80
	tfG    = 88
	tfBeta = 96
	tfAct  = 104
	tfAdd  = 112
)

// transform normalizes channels in float64 and applies the activation in
// float32 (see tfJob): with AVX-512, 16 channels at a time and a last 8
// with Y registers; with AVX2, 8 at a time. h_swish divides by 6 exactly:
// q = p·(1/6) is corrected once with the residual p − 6q, which gives the
// correctly rounded quotient for every normal result. A software
// prefetch reads the source 1 KB ahead (measured best on sources in
// memory; 512 bytes was 15% slower).
// Registers: AX args, BX m, CX inv, DX g, R12 beta, R8 source row, R9
// destination row, R10 rows left, SI source pixel, DI destination pixel,
// R11 pixels left, R13 channel byte offset, R14 channel bytes, R15 the
// bytes of whole 16-channel groups.
func transform(zmm bool) {
	name := "transformAVX2Prefetch"
	if zmm {
		name = "transformAVX512Prefetch"
	}
	comment(fmt.Sprintf("func %s(args *tfArgs)", name))
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	p("MOVQ args+0(FP), AX")
	p("MOVQ %d(AX), BX", tfM)
	p("MOVQ %d(AX), CX", tfInv)
	p("MOVQ %d(AX), DX", tfG)
	p("MOVQ %d(AX), R12", tfBeta)
	p("MOVQ %d(AX), R8", tfSrc)
	p("MOVQ %d(AX), R9", tfDst)
	p("MOVQ %d(AX), R10", tfRows)
	p("MOVQ %d(AX), R14", tfN)
	p("SHLQ $2, R14")
	p("MOVQ R14, R15")
	p("ANDQ $-64, R15")
	consts := []struct {
		bits uint32
		reg  int
	}{{0x40400000, 13}, {0x40c00000, 14}, {0x3e2aaaab, 15}} // 3, 6, float32(1/6)
	for _, c := range consts {
		p("MOVL $0x%x, R11", c.bits)
		p("VMOVD R11, X%d", c.reg)
		if zmm {
			p("VPBROADCASTD X%d, Z%d", c.reg, c.reg+16)
		}
		p("VBROADCASTSS X%d, Y%d", c.reg, c.reg)
	}
	p("VXORPS Y12, Y12, Y12")
	if zmm {
		p("VPXORD Z28, Z28, Z28")
	}
	p("TESTQ R10, R10")
	p("JLE done")
	label("row")
	p("MOVQ R8, SI")
	p("MOVQ R9, DI")
	p("MOVQ %d(AX), R11", tfCols)
	p("TESTQ R11, R11")
	p("JLE nextrow")
	label("pixel")
	p("XORQ R13, R13")
	if zmm {
		p("CMPQ R15, $0")
		p("JE chan")
		label("chan16")
		p("PREFETCHT0 1024(SI)(R13*1)")
		p("VCVTPS2PD (SI)(R13*1), Z0")
		p("VCVTPS2PD 32(SI)(R13*1), Z1")
		p("VSUBPD (BX)(R13*2), Z0, Z0")
		p("VSUBPD 64(BX)(R13*2), Z1, Z1")
		p("VMULPD (CX)(R13*2), Z0, Z0")
		p("VMULPD 64(CX)(R13*2), Z1, Z1")
		p("VMULPD (DX)(R13*2), Z0, Z0")
		p("VMULPD 64(DX)(R13*2), Z1, Z1")
		p("VADDPD (R12)(R13*2), Z0, Z0")
		p("VADDPD 64(R12)(R13*2), Z1, Z1")
		p("VCVTPD2PS Z0, Y0")
		p("VCVTPD2PS Z1, Y1")
		p("VINSERTF32X8 $1, Y1, Z0, Z0")
		act("Z", 28, 29, 30, 31, "16")
		p("CMPQ %d(AX), $0", tfAdd)
		p("JE store16")
		p("VADDPS (DI)(R13*1), Z0, Z0")
		label("store16")
		p("VMOVUPS Z0, (DI)(R13*1)")
		p("ADDQ $64, R13")
		p("CMPQ R13, R15")
		p("JLT chan16")
		p("CMPQ R13, R14")
		p("JGE pixeldone")
	}
	label("chan")
	if !zmm {
		p("PREFETCHT0 1024(SI)(R13*1)")
	}
	p("VCVTPS2PD (SI)(R13*1), Y0")
	p("VCVTPS2PD 16(SI)(R13*1), Y1")
	p("VSUBPD (BX)(R13*2), Y0, Y0")
	p("VSUBPD 32(BX)(R13*2), Y1, Y1")
	p("VMULPD (CX)(R13*2), Y0, Y0")
	p("VMULPD 32(CX)(R13*2), Y1, Y1")
	p("VMULPD (DX)(R13*2), Y0, Y0")
	p("VMULPD 32(DX)(R13*2), Y1, Y1")
	p("VADDPD (R12)(R13*2), Y0, Y0")
	p("VADDPD 32(R12)(R13*2), Y1, Y1")
	p("VCVTPD2PSY Y0, X0")
	p("VCVTPD2PSY Y1, X1")
	p("VINSERTF128 $1, X1, Y0, Y0")
	act("Y", 12, 13, 14, 15, "8")
	p("CMPQ %d(AX), $0", tfAdd)
	p("JE store")
	p("VADDPS (DI)(R13*1), Y0, Y0")
	label("store")
	p("VMOVUPS Y0, (DI)(R13*1)")
	p("ADDQ $32, R13")
	p("CMPQ R13, R14")
	p("JLT chan")
	label("pixeldone")
	p("ADDQ %d(AX), SI", tfSP)
	p("ADDQ %d(AX), DI", tfDP)
	p("DECQ R11")
	p("JNZ pixel")
	label("nextrow")
	p("ADDQ %d(AX), R8", tfSR)
	p("ADDQ %d(AX), R9", tfDR)
	p("DECQ R10")
	p("JNZ row")
	label("done")
	p("VZEROUPPER")
	p("RET")
}

// act applies the activation selected by tfAct to register 0 of the bank
// (Y or Z); zero, three, six and sixth hold those constants.
func act(r string, zero, three, six, sixth int, sfx string) {
	v := func(i int) string { return fmt.Sprintf("%s%d", r, i) }
	p("CMPQ %d(AX), $1", tfAct)
	p("JB actdone%s", sfx)
	p("JA hswish%s", sfx)
	p("VMAXPS %s, %s, %s", v(zero), v(0), v(0))
	p("JMP actdone%s", sfx)
	label("hswish" + sfx)
	p("VADDPS %s, %s, %s", v(three), v(0), v(1))
	p("VMAXPS %s, %s, %s", v(zero), v(1), v(1))
	p("VMINPS %s, %s, %s", v(six), v(1), v(1))
	p("VMULPS %s, %s, %s", v(1), v(0), v(0))
	p("VMULPS %s, %s, %s", v(sixth), v(0), v(2))
	p("VFNMADD231PS %s, %s, %s", v(six), v(2), v(0))
	p("VFMADD231PS %s, %s, %s", v(sixth), v(0), v(2))
	p("VMOVAPS %s, %s", v(2), v(0))
	label("actdone" + sfx)
}

// stats accumulates shifted sums and sums of squares in float64, each
// channel's pixels in order: with AVX2 16 channels at a time, then 8; with
// AVX-512 32, then 16 and 8. A register holds lanes doubles converted from
// lanes floats.
func stats(zmm bool) {
	name, reg, lanes, widths := "statsAVX2", "Y", 4, []int{16, 8}
	if zmm {
		name, reg, lanes, widths = "statsAVX512", "Z", 8, []int{32, 16, 8}
	}
	v := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
	comment(fmt.Sprintf("func %s(src *float32, rows int, n int, ld int, shift *float64, sum *float64, sq *float64)", name))
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	p("MOVQ src+0(FP), SI")
	p("MOVQ rows+8(FP), R8")
	p("MOVQ n+16(FP), R9")
	p("MOVQ ld+24(FP), R10")
	p("MOVQ shift+32(FP), BX")
	p("MOVQ sum+40(FP), CX")
	p("MOVQ sq+48(FP), DX")
	p("SHLQ $2, R10")
	for wi, width := range widths {
		vecs := width / lanes
		pre := fmt.Sprintf("c%d", width)
		label(pre)
		p("CMPQ R9, $%d", width)
		p("JLT %sdone", pre)
		for i := range vecs {
			p("VMOVUPD %d(BX), %s", 8*lanes*i, v(8+i))
			p("VMOVUPD %d(CX), %s", 8*lanes*i, v(i))
			p("VMOVUPD %d(DX), %s", 8*lanes*i, v(4+i))
		}
		p("MOVQ SI, DI")
		p("MOVQ R8, R11")
		p("TESTQ R11, R11")
		p("JLE %sstore", pre)
		label(pre + "row")
		for i := range vecs {
			p("VCVTPS2PD %d(DI), %s", 4*lanes*i, v(12+i))
		}
		for i := range vecs {
			p("VSUBPD %s, %s, %s", v(8+i), v(12+i), v(12+i))
			p("VADDPD %s, %s, %s", v(12+i), v(i), v(i))
			p("VFMADD231PD %s, %s, %s", v(12+i), v(12+i), v(4+i))
		}
		p("ADDQ R10, DI")
		p("DECQ R11")
		p("JNZ %srow", pre)
		label(pre + "store")
		for i := range vecs {
			p("VMOVUPD %s, %d(CX)", v(i), 8*lanes*i)
			p("VMOVUPD %s, %d(DX)", v(4+i), 8*lanes*i)
		}
		p("ADDQ $%d, SI", 4*width)
		p("ADDQ $%d, BX", 8*width)
		p("ADDQ $%d, CX", 8*width)
		p("ADDQ $%d, DX", 8*width)
		p("SUBQ $%d, R9", width)
		if wi == 0 {
			p("JMP %s", pre) // the widest chunk repeats; the narrower come once
		}
		label(pre + "done")
	}
	p("VZEROUPPER")
	p("RET")
}

// gemvAVX2 sets y[j] = (Σ_t x[t]·w[t*n+j]) + bias[j], 32 outputs at a time
// (then 8), summing rounded products in order of t.
func gemvAVX2() {
	comment("func gemvAVX2(x *float32, k int, w *float32, n int, bias *float32, y *float32)")
	fmt.Fprintf(&out, "TEXT ·gemvAVX2(SB), NOSPLIT, $0-48\n")
	p("MOVQ x+0(FP), SI")
	p("MOVQ k+8(FP), R8")
	p("MOVQ w+16(FP), DI")
	p("MOVQ n+24(FP), R9")
	p("MOVQ bias+32(FP), BX")
	p("MOVQ y+40(FP), DX")
	p("MOVQ R9, R10")
	p("SHLQ $2, R10") // row bytes
	for _, width := range []int{32, 8} {
		vecs := width / 8
		pre := fmt.Sprintf("w%d", width)
		label(pre + "chunk")
		p("CMPQ R9, $%d", width)
		p("JLT %sdone", pre)
		for i := range vecs {
			p("VXORPS Y%d, Y%d, Y%d", i, i, i)
		}
		p("MOVQ SI, R11")
		p("MOVQ DI, R12")
		p("MOVQ R8, R13")
		p("TESTQ R13, R13")
		p("JLE %sbias", pre)
		label(pre + "t")
		p("VBROADCASTSS (R11), Y8")
		for i := range vecs {
			p("VMULPS %d(R12), Y8, Y%d", 32*i, 9+i)
			p("VADDPS Y%d, Y%d, Y%d", 9+i, i, i)
		}
		p("ADDQ $4, R11")
		p("ADDQ R10, R12")
		p("DECQ R13")
		p("JNZ %st", pre)
		label(pre + "bias")
		for i := range vecs {
			p("VADDPS %d(BX), Y%d, Y%d", 32*i, i, i)
			p("VMOVUPS Y%d, %d(DX)", i, 32*i)
		}
		p("ADDQ $%d, DI", 4*width)
		p("ADDQ $%d, BX", 4*width)
		p("ADDQ $%d, DX", 4*width)
		p("SUBQ $%d, R9", width)
		p("JMP %schunk", pre)
		label(pre + "done")
	}
	p("VZEROUPPER")
	p("RET")
}

func main() {
	out.WriteString("// Code generated by asm_gen.go; DO NOT EDIT.\n\n#include \"textflag.h\"\n")
	for _, fma := range []bool{true, false} {
		gemm6x16AVX2(fma)
		gemm12AVX512(fma, 2)
		gemm12AVX512(fma, 1)
		dw(fma, false)
		dw(fma, true)
	}
	transform(false)
	transform(true)
	stats(false)
	stats(true)
	gemvAVX2()
	if err := os.WriteFile("kernels_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
