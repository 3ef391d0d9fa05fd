package imaging

import "fmt"

// This file holds the arithmetic entropy decoder (ITU-T T.81 Annex D and
// sections F.1.4.4, F.2.4 and G.2), for sequential (SOF9) and progressive
// (SOF10) frames, with libjpeg-turbo 2.1.5's behaviour on bad data
// (jdarith.c): the coder reads bytes only when its renormalization needs
// them, a marker met inside the data is not an error but supplies zero
// bytes from there on, and a magnitude or run that overflows stops the
// decoding of the restart interval, whose remaining blocks keep what they
// had (zero in a single-scan image).
//
// One Pillow-specific rule: libjpeg's arithmetic decoder cannot suspend for
// more input, and Pillow hands libjpeg the file in 64 KiB chunks, so a scan
// (or a restart marker) whose data runs past the end of the chunk that was
// current when its decoding began fails in Pillow with "broken data stream
// when reading image file". Such files are refused here too, with
// errArithChunk; arithmetic-coded files whose scans each fit are decoded.

// numArithTables is NUM_ARITH_TBLS: conditioning and statistics slots.
const numArithTables = 16

// Statistics area sizes per table (libjpeg's DC_STAT_BINS, AC_STAT_BINS):
// each bin is a byte holding the more probable symbol in bit 7 and a state
// index of Table D.2 in the low seven bits.
const (
	dcStatBins = 64
	acStatBins = 256
)

// arithDecoder is the arithmetic decoder's state for one scan.
type arithDecoder struct {
	c  int64 // code register: the interval base and the unread input bits
	a  int64 // interval size, normalized
	ct int   // bits of input left in c; -16 before the first two bytes; -1 after an error

	dcStats  [numArithTables]*[dcStatBins]byte
	acStats  [numArithTables]*[acStatBins]byte
	fixedBin [4]byte // fixed probability 0.5 (state 113)

	// Conditioning (DAC marker): DC lower and upper bounds L and U, AC
	// band split K, per table. Defaults 0, 1 and 5.
	dcL, dcU, acK [numArithTables]uint8
}

// errArithChunk is the refusal of an arithmetic-coded scan that needs data
// beyond the 64 KiB chunk Pillow has handed libjpeg (see the file comment).
var errArithChunk = &UnsupportedError{Format: "jpeg", Feature: fmt.Sprintf(
	"arithmetic-coded scan that crosses a %d KiB boundary of the file (libjpeg's arithmetic decoder cannot wait for more data, so Pillow refuses it as a broken data stream)", pillowChunk>>10)}

// qeTable is Table D.2 of T.81 in libjpeg's packing: Qe in bits 16-31, the
// next state after an MPS in bits 8-15, and in the low byte the next state
// after an LPS with the switch-MPS flag in bit 7. The last entry (113) is
// the fixed 0.5 estimate of T.851 used for sign and refinement bits.
var qeTable = [114]uint32{
	0x5a1d0181, 0x2586020e, 0x11140310, 0x080b0412, 0x03d80514, 0x01da0617, 0x00e50719, 0x006f081c,
	0x0036091e, 0x001a0a21, 0x000d0b23, 0x00060c09, 0x00030d0a, 0x00010d0c, 0x5a7f0f8f, 0x3f251024,
	0x2cf21126, 0x207c1227, 0x17b91328, 0x1182142a, 0x0cef152b, 0x09a1162d, 0x072f172e, 0x055c1830,
	0x04061931, 0x03031a33, 0x02401b34, 0x01b11c36, 0x01441d38, 0x00f51e39, 0x00b71f3b, 0x008a203c,
	0x0068213e, 0x004e223f, 0x003b2320, 0x002c0921, 0x5ae125a5, 0x484c2640, 0x3a0d2741, 0x2ef12843,
	0x261f2944, 0x1f332a45, 0x19a82b46, 0x15182c48, 0x11772d49, 0x0e742e4a, 0x0bfb2f4b, 0x09f8304d,
	0x0861314e, 0x0706324f, 0x05cd3330, 0x04de3432, 0x040f3532, 0x03633633, 0x02d43734, 0x025c3835,
	0x01f83936, 0x01a43a37, 0x01603b38, 0x01253c39, 0x00f63d3a, 0x00cb3e3b, 0x00ab3f3d, 0x008f203d,
	0x5b1241c1, 0x4d044250, 0x412c4351, 0x37d84452, 0x2fe84553, 0x293c4654, 0x23794756, 0x1edf4857,
	0x1aa94957, 0x174e4a48, 0x14244b48, 0x119c4c4a, 0x0f6b4d4a, 0x0d514e4b, 0x0bb64f4d, 0x0a40304d,
	0x583251d0, 0x4d1c5258, 0x438e5359, 0x3bdd545a, 0x34ee555b, 0x2eae565c, 0x299a575d, 0x25164756,
	0x557059d8, 0x4ca95a5f, 0x44d95b60, 0x3e225c61, 0x38245d63, 0x32b45e63, 0x2e17565d, 0x56a860df,
	0x4f466165, 0x47e56266, 0x41cf6367, 0x3c3d6468, 0x375e5d63, 0x52316669, 0x4c0f676a, 0x4639686b,
	0x415e6367, 0x56276ae9, 0x50e76b6c, 0x4b85676d, 0x55976d6e, 0x504f6b6f, 0x5a106fee, 0x55226d70,
	0x59eb6ff0, 0x5a1d7171,
}

// resetConditioning sets the DAC defaults, as libjpeg does at SOI.
func (ar *arithDecoder) resetConditioning() {
	for i := range ar.dcL {
		ar.dcL[i], ar.dcU[i], ar.acK[i] = 0, 1, 5
	}
}

// parseDAC reads a DAC segment (libjpeg's get_dac): pairs of a table
// index (0-15 DC, 16-31 AC) and its conditioning value.
func (d *jpegDecoder) parseDAC() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	if len(s)%2 != 0 {
		return jpegErr("bad arithmetic conditioning (DAC) segment length")
	}
	ar := &d.ar
	for ; len(s) > 0; s = s[2:] {
		index, val := int(s[0]), s[1]
		switch {
		case index >= 2*numArithTables:
			return jpegErr("bad arithmetic conditioning table index %d", index)
		case index >= numArithTables:
			ar.acK[index-numArithTables] = val
		default:
			ar.dcL[index], ar.dcU[index] = val&15, val>>4
			if ar.dcL[index] > ar.dcU[index] {
				return jpegErr("bad arithmetic DC conditioning value 0x%02X (L above U)", val)
			}
		}
	}
	return nil
}

// startArithScan is jdarith's start_pass after the progression checks:
// the scan's statistics areas are cleared, the DC predictions reset and
// the coder set to read its first two bytes. The data the scan may read
// ends with the chunk Pillow has handed libjpeg so far.
func (d *jpegDecoder) startArithScan() {
	d.resetArithStats()
	d.bufEnd = d.pillowBufEnd()
}

// resetArithStats clears the statistics the scan uses and restarts the
// coder (start of a scan and every restart interval).
func (d *jpegDecoder) resetArithStats() {
	sc, ar := &d.scan, &d.ar
	for _, c := range sc.comps {
		if !d.progressive || (sc.ss == 0 && sc.ah == 0) {
			if ar.dcStats[c.dcTbl] == nil {
				ar.dcStats[c.dcTbl] = new([dcStatBins]byte)
			}
			clear(ar.dcStats[c.dcTbl][:])
			c.lastDC, c.dcContext = 0, 0
		}
		if !d.progressive || sc.ss != 0 {
			if ar.acStats[c.acTbl] == nil {
				ar.acStats[c.acTbl] = new([acStatBins]byte)
			}
			clear(ar.acStats[c.acTbl][:])
		}
	}
	ar.fixedBin[0] = 113
	ar.c, ar.a, ar.ct = 0, 0, -16
}

// arithRestart reads the restart marker expected before the next MCU and
// resets the coder and the scan's statistics.
func (d *jpegDecoder) arithRestart() error {
	if err := d.readRestartMarker(); err != nil {
		return err
	}
	if d.pos > d.bufEnd {
		return errArithChunk
	}
	d.resetArithStats()
	return nil
}

// arithByte is jdarith's get_byte.
func (d *jpegDecoder) arithByte() (int64, error) {
	if d.pos >= d.bufEnd {
		if d.bufEnd < len(d.data) {
			return 0, errArithChunk
		}
		return 0, ErrTruncated
	}
	c := d.data[d.pos]
	d.pos++
	return int64(c), nil
}

// decodeBit decodes one binary decision with the statistics bin *st
// (T.81 D.2.4 to D.2.6, in libjpeg's formulation where the split between
// interval base and input bits in c floats with ct).
func (d *jpegDecoder) decodeBit(st *byte) (int, error) {
	ar := &d.ar
	for ar.a < 0x8000 {
		ar.ct--
		if ar.ct < 0 {
			var data int64
			if d.br.marker == 0 {
				var err error
				if data, err = d.arithByte(); err != nil {
					return 0, err
				}
				if data == 0xFF {
					for data == 0xFF {
						if data, err = d.arithByte(); err != nil {
							return 0, err
						}
					}
					if data == 0 {
						data = 0xFF // stuffed zero byte
					} else {
						d.br.marker = byte(data) // legal here: zeros follow
						data = 0
					}
				}
			}
			ar.c = ar.c<<8 | data
			ar.ct += 8
			if ar.ct < 0 {
				ar.ct++
				if ar.ct == 0 {
					ar.a = 0x8000 // two initial bytes read
				}
			}
		}
		ar.a <<= 1
	}
	sv := int(*st)
	qe := qeTable[sv&0x7F]
	nl, nm := byte(qe), byte(qe>>8)
	q := int64(qe >> 16)
	temp := ar.a - q
	ar.a = temp
	temp <<= uint(ar.ct)
	if ar.c >= temp {
		ar.c -= temp
		if ar.a < q { // conditional exchange: MPS
			ar.a = q
			*st = byte(sv&0x80) ^ nm
		} else {
			ar.a = q
			*st = byte(sv&0x80) ^ nl
			sv ^= 0x80
		}
	} else if ar.a < 0x8000 {
		if ar.a < q { // conditional exchange: LPS
			*st = byte(sv&0x80) ^ nl
			sv ^= 0x80
		} else {
			*st = byte(sv&0x80) ^ nm
		}
	}
	return sv >> 7, nil
}

// arithMCU decodes one MCU of an arithmetic-coded scan into blocks (the
// MCU buffer for a single-scan image, zeroed first, else the stored
// coefficients).
func (d *jpegDecoder) arithMCU(blocks []mcuBlock, oneShot bool, mcu *[10][64]int16) error {
	sc := &d.scan
	if oneShot {
		for i := range blocks {
			mcu[i] = [64]int16{}
		}
	}
	blk := func(i int) *[64]int16 {
		if oneShot {
			return &mcu[i]
		}
		return d.block(blocks[i])
	}
	ar := &d.ar
	switch {
	case d.progressive && sc.ss == 0 && sc.ah != 0:
		// DC refinement: the next bit of each DC value, at probability
		// 0.5 (libjpeg does not check for an earlier error here).
		for i := range blocks {
			bit, err := d.decodeBit(&ar.fixedBin[0])
			if err != nil {
				return err
			}
			if bit != 0 {
				blk(i)[0] |= int16(1) << uint(sc.al)
			}
		}
		return nil
	case ar.ct == -1:
		return nil // an error earlier in this restart interval
	case !d.progressive:
		for i, b := range blocks {
			if ok, err := d.arithDC(blk(i), b.comp, 0); !ok || err != nil {
				return err
			}
			if ok, err := d.arithAC(blk(i), b.comp, 1, 63, 0); !ok || err != nil {
				return err
			}
		}
	case sc.ss == 0:
		for i, b := range blocks {
			if ok, err := d.arithDC(blk(i), b.comp, sc.al); !ok || err != nil {
				return err
			}
		}
	case sc.ah == 0:
		_, err := d.arithAC(blk(0), blocks[0].comp, sc.ss, sc.se, sc.al)
		return err
	default:
		return d.arithACRefine(blk(0), blocks[0].comp)
	}
	return nil
}

// arithDC decodes a DC difference (F.1.4.4.1 and figures F.19 to F.24),
// updates the prediction and stores it shifted by al. It reports false
// when a magnitude overflows, which ends the restart interval.
func (d *jpegDecoder) arithDC(blk *[64]int16, c *jpegComponent, al int) (bool, error) {
	ar := &d.ar
	stats := ar.dcStats[c.dcTbl]
	s := c.dcContext
	bit, err := d.decodeBit(&stats[s])
	if err != nil {
		return false, err
	}
	if bit == 0 {
		c.dcContext = 0
	} else {
		sign, err := d.decodeBit(&stats[s+1])
		if err != nil {
			return false, err
		}
		s += 2 + sign
		m, err := d.decodeBit(&stats[s])
		if err != nil {
			return false, err
		}
		if m != 0 {
			var ok bool
			if m, s, ok, err = d.arithMagnitude(stats[:], 20, m); !ok || err != nil { // X1 = 20
				return false, err
			}
		}
		// Conditioning category for the next difference (F.1.4.4.1.2).
		switch {
		case m < (1<<ar.dcL[c.dcTbl])>>1:
			c.dcContext = 0
		case m > (1<<ar.dcU[c.dcTbl])>>1:
			c.dcContext = 12 + 4*sign
		default:
			c.dcContext = 4 + 4*sign
		}
		v, err := d.arithValue(stats[:], s, m, sign)
		if err != nil {
			return false, err
		}
		c.lastDC = (c.lastDC + int32(v)) & 0xFFFF
	}
	blk[0] = int16(uint32(c.lastDC) << uint(al))
	return true, nil
}

// arithMagnitude decodes the rest of a magnitude category (figure F.23):
// m doubles while the bins from x1 on say so. It returns the category's
// top bit m and the bin s the category ended at, or ok false when m
// overflows 15 bits, which stops the restart interval.
func (d *jpegDecoder) arithMagnitude(stats []byte, x1, m int) (int, int, bool, error) {
	s := x1
	for {
		more, err := d.decodeBit(&stats[s])
		if err != nil || more == 0 {
			return m, s, true, err
		}
		if m <<= 1; m == 0x8000 {
			d.ar.ct = -1 // magnitude overflow
			return 0, 0, false, nil
		}
		s++
	}
}

// arithValue decodes the bits of a value below its top bit m from the bins
// 14 after s (figure F.24) and returns the signed value, 1 + the bits.
func (d *jpegDecoder) arithValue(stats []byte, s, m, sign int) (int, error) {
	v := m
	s += 14
	for m >>= 1; m != 0; m >>= 1 {
		bit, err := d.decodeBit(&stats[s])
		if err != nil {
			return 0, err
		}
		if bit != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	return v, nil
}

// arithAC decodes the AC coefficients ss..se of a block (figure F.20),
// each stored shifted by al. It reports false when a run or magnitude
// overflows, which ends the restart interval.
func (d *jpegDecoder) arithAC(blk *[64]int16, c *jpegComponent, ss, se, al int) (bool, error) {
	ar := &d.ar
	stats := ar.acStats[c.acTbl]
	for k := ss; k <= se; k++ {
		s := 3 * (k - 1)
		eob, err := d.decodeBit(&stats[s])
		if err != nil {
			return false, err
		}
		if eob != 0 {
			break
		}
		for {
			nz, err := d.decodeBit(&stats[s+1])
			if err != nil {
				return false, err
			}
			if nz != 0 {
				break
			}
			s += 3
			k++
			if k > se {
				ar.ct = -1 // spectral overflow
				return false, nil
			}
		}
		sign, err := d.decodeBit(&ar.fixedBin[0])
		if err != nil {
			return false, err
		}
		s += 2
		m, err := d.decodeBit(&stats[s])
		if err != nil {
			return false, err
		}
		if m != 0 {
			more, err := d.decodeBit(&stats[s])
			if err != nil {
				return false, err
			}
			if more != 0 {
				x1 := 217 // the high band's bins
				if k <= int(ar.acK[c.acTbl]) {
					x1 = 189
				}
				var ok bool
				if m, s, ok, err = d.arithMagnitude(stats[:], x1, 2); !ok || err != nil {
					return false, err
				}
			}
		}
		v, err := d.arithValue(stats[:], s, m, sign)
		if err != nil {
			return false, err
		}
		blk[naturalOrder[k]] = int16(uint32(v) << uint(al))
	}
	return true, nil
}

// arithACRefine decodes a successive-approximation refinement of the AC
// coefficients ss..se of a block (G.2).
func (d *jpegDecoder) arithACRefine(blk *[64]int16, c *jpegComponent) error {
	sc, ar := &d.scan, &d.ar
	stats := ar.acStats[c.acTbl]
	p1 := int16(1) << uint(sc.al)
	m1 := int16(-1) << uint(sc.al)
	// The previous stage's end of block: the last nonzero coefficient.
	kex := sc.se
	for ; kex > 0; kex-- {
		if blk[naturalOrder[kex]] != 0 {
			break
		}
	}
	for k := sc.ss; k <= sc.se; k++ {
		s := 3 * (k - 1)
		if k > kex {
			eob, err := d.decodeBit(&stats[s])
			if err != nil {
				return err
			}
			if eob != 0 {
				break
			}
		}
		for {
			coef := &blk[naturalOrder[k]]
			if *coef != 0 { // previously nonzero: a correction bit
				bit, err := d.decodeBit(&stats[s+2])
				if err != nil {
					return err
				}
				if bit != 0 {
					if *coef < 0 {
						*coef += m1
					} else {
						*coef += p1
					}
				}
				break
			}
			nz, err := d.decodeBit(&stats[s+1])
			if err != nil {
				return err
			}
			if nz != 0 { // newly nonzero
				neg, err := d.decodeBit(&ar.fixedBin[0])
				if err != nil {
					return err
				}
				*coef = p1
				if neg != 0 {
					*coef = m1
				}
				break
			}
			s += 3
			k++
			if k > sc.se {
				ar.ct = -1 // spectral overflow
				return nil
			}
		}
	}
	return nil
}
