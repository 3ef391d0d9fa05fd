package imaging

import "slices"

// The standard Huffman tables of the JPEG specification (ITU T.81 Annex
// K.3, tables K.3 to K.6), which libjpeg-turbo substitutes for tables a
// sequential file leaves undefined in slots 0 and 1. The AC symbol lists
// start with an irregular prefix; the rest are all remaining (run, size)
// symbols in increasing order.

var stdDefs = func() (defs [2][2]*huffDef) {
	dcBits := [2][17]uint8{
		{0, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
	}
	acBits := [2][17]uint8{
		{0, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d},
		{0, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77},
	}
	acPrefix := [2][]uint8{
		{0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06,
			0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
			0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82},
		{0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41,
			0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
			0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1,
			0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1},
	}
	for i := 0; i < 2; i++ {
		dc := &huffDef{bits: dcBits[i]}
		for v := 0; v < 12; v++ {
			dc.vals[v] = uint8(v)
		}
		ac := &huffDef{bits: acBits[i]}
		vals := slices.Clone(acPrefix[i])
		for _, sym := range allACSymbols() {
			if !slices.Contains(acPrefix[i], sym) {
				vals = append(vals, sym)
			}
		}
		copy(ac.vals[:], vals)
		defs[0][i], defs[1][i] = dc, ac
	}
	return defs
}()

// allACSymbols lists every AC symbol of 8-bit JPEG in increasing order:
// EOB, ZRL and run<<4|size for sizes 1 to 10.
func allACSymbols() []uint8 {
	syms := []uint8{0x00}
	for r := 0; r < 16; r++ {
		for s := 1; s <= 10; s++ {
			syms = append(syms, uint8(r<<4|s))
		}
		if r == 14 {
			syms = append(syms, 0xf0)
		}
	}
	return syms
}

// stdHuffDef returns the standard table for slot n, or nil past slot 1.
func stdHuffDef(n int, isDC bool) *huffDef {
	if n > 1 {
		return nil
	}
	if isDC {
		return stdDefs[0][n]
	}
	return stdDefs[1][n]
}
