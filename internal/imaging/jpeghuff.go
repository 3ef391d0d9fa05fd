package imaging

import "errors"

// Entropy decoding: Huffman tables, the bit reader and the sequential and
// progressive scan decoders. The bit reader keeps libjpeg's rules for
// running into a marker (the rest of the segment reads as zero bits) and
// for the end of the data (any refill that finds no more bytes means the
// file is truncated), so that the same files decode, and to the same
// pixels, as in libjpeg-turbo.

const lookBits = 8 // libjpeg's HUFF_LOOKAHEAD; the refill rules depend on it

// minGetBits is libjpeg's MIN_GET_BITS for a 64-bit bit buffer: a refill
// reads bytes until at least this many bits are buffered.
const minGetBits = 64 - 7

type huffTable struct {
	// lookup maps the next lookBits bits to (length<<8 | symbol); a length
	// of lookBits+1 means the code is longer.
	lookup    [1 << lookBits]uint16
	maxcode   [18]int32
	valoffset [18]int32
	vals      [256]uint8
}

// build derives a decoding table, refusing the tables libjpeg refuses
// (too many codes, a code of all one bits, DC symbols above 15).
func (t *huffTable) build(def *huffDef, isDC bool) error {
	var size [257]uint8
	var code [257]uint32
	p := 0
	for l := 1; l <= 16; l++ {
		n := int(def.bits[l])
		if p+n > 256 {
			return jpegErr("bad Huffman table")
		}
		for ; n > 0; n-- {
			size[p] = uint8(l)
			p++
		}
	}
	numSymbols := p
	c := uint32(0)
	si := int(size[0])
	for p = 0; size[p] != 0; {
		for int(size[p]) == si {
			code[p] = c
			p++
			c++
		}
		if uint64(c) >= uint64(1)<<si {
			return jpegErr("bad Huffman table")
		}
		c <<= 1
		si++
	}
	p = 0
	for l := 1; l <= 16; l++ {
		if def.bits[l] != 0 {
			t.valoffset[l] = int32(p) - int32(code[p])
			p += int(def.bits[l])
			t.maxcode[l] = int32(code[p-1])
		} else {
			t.maxcode[l] = -1
		}
	}
	t.valoffset[17] = 0
	t.maxcode[17] = 0xFFFFF
	for i := range t.lookup {
		t.lookup[i] = (lookBits + 1) << 8
	}
	p = 0
	for l := 1; l <= lookBits; l++ {
		for i := 1; i <= int(def.bits[l]); i++ {
			look := int(code[p]) << (lookBits - l)
			for n := 1 << (lookBits - l); n > 0; n-- {
				t.lookup[look] = uint16(l)<<8 | uint16(def.vals[p])
				look++
			}
			p++
		}
	}
	if isDC {
		for i := 0; i < numSymbols; i++ {
			if def.vals[i] > 15 {
				return jpegErr("bad Huffman table")
			}
		}
	}
	t.vals = def.vals
	return nil
}

// bitReader is the entropy-coded data reader state.
type bitReader struct {
	buf          uint64
	n            int  // valid bits in buf (the low n bits)
	marker       byte // a marker met in the data, not yet processed
	insufficient bool // the segment ran out: its remaining MCUs are left zero
}

// errSuspend and errFastMarker interrupt the decoding of one sequential
// MCU, which then starts over (see decodeSeqMCU).
var (
	errSuspend    = errors.New("suspend")
	errFastMarker = errors.New("marker in fast path")
)

// pillowChunk is how many bytes Pillow hands libjpeg at a time
// (ImageFile.MAXBLOCK); see decodeSeqMCU.
const pillowChunk = 65536

// pillowBufEnd is where the data libjpeg has been given ends: the end of
// the last of Pillow's chunks read so far (the one holding the furthest
// byte needed, hiPos, or the current position), or the end of the file.
func (d *jpegDecoder) pillowBufEnd() int {
	return min(len(d.data), ceilDiv(max(d.hiPos, d.pos, 1), pillowChunk)*pillowChunk)
}

// fill refills the bit buffer as libjpeg's jpeg_fill_bit_buffer does.
func (d *jpegDecoder) fill(nbits int) error {
	br := &d.br
	if br.marker == 0 {
		data := d.data
		pos := d.pos
		for br.n < minGetBits {
			if pos >= d.bufEnd {
				return d.outOfData(pos)
			}
			c := data[pos]
			pos++
			if c == 0xFF {
				for {
					if pos >= d.bufEnd {
						return d.outOfData(pos)
					}
					c = data[pos]
					pos++
					if c != 0xFF {
						break
					}
				}
				if c != 0 {
					br.marker = c
					d.pos = pos
					goto noMore
				}
				c = 0xFF
			}
			br.buf = br.buf<<8 | uint64(c)
			br.n += 8
		}
		d.pos = pos
		return nil
	}
noMore:
	if nbits > br.n {
		// Out of data in this segment: zero bits from here on.
		br.insufficient = true
		br.buf <<= uint(minGetBits - br.n)
		br.n = minGetBits
	}
	return nil
}

// outOfData is a refill that reaches the end of the data libjpeg has been
// given: the end of the file means truncation; the end of one of Pillow's
// chunks means libjpeg suspends, and the MCU starts over with more data.
func (d *jpegDecoder) outOfData(pos int) error {
	d.pos = pos
	if d.bufEnd < len(d.data) {
		d.hiPos = max(d.hiPos, pos+1)
		return errSuspend
	}
	return ErrTruncated
}

// bits returns the next s (1..16) bits.
func (d *jpegDecoder) bits(s int) (int32, error) {
	if d.br.n < s {
		if err := d.fill(s); err != nil {
			return 0, err
		}
	}
	d.br.n -= s
	return int32(d.br.buf>>uint(d.br.n)) & (1<<s - 1), nil
}

// extend turns s received bits into a signed value (HUFF_EXTEND).
func extend(x int32, s int) int32 {
	if x < 1<<(s-1) {
		return x + (-1 << s) + 1
	}
	return x
}

// huff decodes one Huffman-coded symbol.
func (d *jpegDecoder) huff(t *huffTable) (int, error) {
	br := &d.br
	nb := 1
	if br.n < lookBits {
		if err := d.fill(0); err != nil {
			return 0, err
		}
		if br.n < lookBits {
			return d.huffSlow(t, nb)
		}
	}
	v := t.lookup[(br.buf>>uint(br.n-lookBits))&(1<<lookBits-1)]
	nb = int(v >> 8)
	if nb <= lookBits {
		br.n -= nb
		return int(v & 0xFF), nil
	}
	return d.huffSlow(t, nb)
}

// huffSlow decodes a code of at least l bits (jpeg_huff_decode). A bit
// pattern that is no code at all decodes as symbol 0 after 17 bits, as in
// libjpeg.
func (d *jpegDecoder) huffSlow(t *huffTable, l int) (int, error) {
	code, err := d.bits(l)
	if err != nil {
		return 0, err
	}
	for code > t.maxcode[l] {
		b, err := d.bits(1)
		if err != nil {
			return 0, err
		}
		code = code<<1 | b
		l++
	}
	if l > 16 {
		return 0, nil
	}
	return int(t.vals[uint8(code+t.valoffset[l])]), nil
}

// startScan prepares the entropy decoder for the scan whose header has just
// been read (libjpeg's per_scan_setup, latch_quant_tables and the entropy
// decoder's start_pass).
func (d *jpegDecoder) startScan() error {
	sc := &d.scan
	if len(sc.comps) == 1 {
		c := sc.comps[0]
		sc.mcusPerRow, sc.mcuRows = c.bw, c.bh
	} else {
		sc.mcusPerRow, sc.mcuRows = d.mcusX, d.mcusY
		blocks := 0
		for _, c := range sc.comps {
			blocks += c.h * c.v
		}
		if blocks > 10 {
			return jpegErr("an MCU of %d blocks (sampling factors too large for an interleaved scan)", blocks)
		}
	}
	for _, c := range sc.comps {
		if c.quant != nil {
			continue
		}
		if c.tq >= 4 || d.quant[c.tq] == nil {
			return jpegErr("quantization table %d is not defined", c.tq)
		}
		q := *d.quant[c.tq]
		c.quant = &q
	}
	if d.progressive {
		if err := d.startProgressiveScan(); err != nil {
			return err
		}
	} else if !d.arith {
		// libjpeg only warns when Ss, Se, Ah, Al are not those of a
		// sequential scan, and decodes it as one.
		for _, c := range sc.comps {
			if err := d.table(c.dcTbl, true); err != nil {
				return err
			}
			if err := d.table(c.acTbl, false); err != nil {
				return err
			}
		}
	}
	for _, c := range sc.comps {
		c.lastDC = 0
	}
	d.br = bitReader{}
	sc.eobrun = 0
	if d.arith {
		d.startArithScan()
	}
	return nil
}

// table builds Huffman table n (DC or AC) for the scan.
func (d *jpegDecoder) table(n int, isDC bool) error {
	if n >= 4 {
		return jpegErr("Huffman table %d is not defined", n)
	}
	def, t := d.acDefs[n], &d.acTables[n]
	if isDC {
		def, t = d.dcDefs[n], &d.dcTables[n]
	}
	if def == nil {
		if d.progressive {
			return jpegErr("Huffman table %d is not defined", n)
		}
		// libjpeg-turbo falls back to the standard tables of the JPEG
		// specification (Motion-JPEG frames omit them) for slots 0 and 1.
		def = stdHuffDef(n, isDC)
		if def == nil {
			return jpegErr("Huffman table %d is not defined", n)
		}
	}
	return t.build(def, isDC)
}

func (d *jpegDecoder) startProgressiveScan() error {
	sc := &d.scan
	bad := false
	if sc.ss == 0 {
		if sc.se != 0 {
			bad = true
		}
	} else {
		if sc.ss > sc.se || sc.se >= 64 || len(sc.comps) != 1 {
			bad = true
		}
	}
	if sc.ah != 0 && sc.al != sc.ah-1 {
		bad = true
	}
	if sc.al > 13 {
		bad = true
	}
	if bad {
		return jpegErr("bad progressive scan parameters (Ss=%d Se=%d Ah=%d Al=%d)", sc.ss, sc.se, sc.ah, sc.al)
	}
	for _, c := range sc.comps {
		bits := &d.coefBits[c.index]
		prev := &d.prevCoefBits[c.index]
		for k := min(sc.ss, 1); k <= max(sc.se, 9); k++ {
			if d.scanNumber > 1 {
				prev[k] = bits[k]
			} else {
				prev[k] = 0
			}
		}
		for k := sc.ss; k <= sc.se; k++ {
			bits[k] = sc.al
		}
	}
	if d.arith {
		return nil // no Huffman tables
	}
	for _, c := range sc.comps {
		if sc.ss == 0 {
			if sc.ah == 0 {
				if err := d.table(c.dcTbl, true); err != nil {
					return err
				}
			}
		} else if err := d.table(c.acTbl, false); err != nil {
			return err
		}
	}
	return nil
}

// processRestart handles the restart marker expected before the next MCU
// (libjpeg's process_restart and read_restart_marker, with its resync
// rules for a missing or unexpected marker).
func (d *jpegDecoder) processRestart() error {
	if d.arith {
		return d.arithRestart()
	}
	sc := &d.scan
	d.br.n = 0
	if err := d.readRestartMarker(); err != nil {
		return err
	}
	for _, c := range sc.comps {
		c.lastDC = 0
	}
	sc.eobrun = 0
	if d.br.marker == 0 {
		d.br.insufficient = false
	}
	return nil
}

// readRestartMarker finds the restart marker expected next (libjpeg's
// read_restart_marker).
func (d *jpegDecoder) readRestartMarker() error {
	sc := &d.scan
	if d.br.marker == 0 {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		d.br.marker = m
	}
	want := sc.restartNum
	if int(d.br.marker) == mRST0+want {
		d.br.marker = 0
	} else if err := d.resync(want); err != nil {
		return err
	}
	sc.restartNum = (sc.restartNum + 1) & 7
	return nil
}

// resync is libjpeg's jpeg_resync_to_restart.
func (d *jpegDecoder) resync(want int) error {
	for {
		m := int(d.br.marker)
		action := 1
		switch {
		case m < mSOF0:
			action = 2
		case m < mRST0 || m > mRST7:
			action = 3
		case m == mRST0+((want+1)&7) || m == mRST0+((want+2)&7):
			action = 3
		case m == mRST0+((want-1)&7) || m == mRST0+((want-2)&7):
			action = 2
		}
		switch action {
		case 1:
			d.br.marker = 0
			return nil
		case 2:
			nm, err := d.nextMarker()
			if err != nil {
				return err
			}
			d.br.marker = nm
		case 3:
			return nil
		}
	}
}

// mcuBlock locates one block of an MCU.
type mcuBlock struct {
	comp   *jpegComponent
	bx, by int // block position in the component
}

// decodeScan decodes the entropy-coded data of the current scan.
func (d *jpegDecoder) decodeScan() error {
	if err := d.startScan(); err != nil {
		return err
	}
	sc := &d.scan
	restartsToGo := d.restartEvery
	var blocks [10]mcuBlock
	single := len(sc.comps) == 1
	oneShot := !d.multiScan
	var mcu [10][64]int16
	for my := 0; my < sc.mcuRows; my++ {
		iMCURow := my
		if single {
			iMCURow = my / sc.comps[0].v
		}
		for mx := 0; mx < sc.mcusPerRow; mx++ {
			if !d.br.insufficient {
				d.lastGoodIMCURow = iMCURow
			}
			if d.restartEvery != 0 {
				if restartsToGo == 0 {
					if err := d.processRestart(); err != nil {
						return err
					}
					restartsToGo = d.restartEvery
				}
				restartsToGo--
			}
			nb := 0
			if single {
				blocks[0] = mcuBlock{sc.comps[0], mx, my}
				nb = 1
			} else {
				for _, c := range sc.comps {
					for y := 0; y < c.v; y++ {
						for x := 0; x < c.h; x++ {
							blocks[nb] = mcuBlock{c, mx*c.h + x, my*c.v + y}
							nb++
						}
					}
				}
			}
			var err error
			switch {
			case !d.progressive:
				if d.arith {
					err = d.arithMCU(blocks[:nb], oneShot, &mcu)
				} else {
					err = d.decodeSeqMCU(blocks[:nb], oneShot, &mcu)
				}
				if err != nil {
					return err
				}
				if oneShot {
					for i := 0; i < nb; i++ {
						b := blocks[i]
						if b.bx < b.comp.bw && b.by < b.comp.bh {
							idctBlock(&mcu[i], b.comp.quant, b.comp.plane[b.by*8*b.comp.stride+b.bx*8:], b.comp.stride)
						}
					}
				}
			case d.arith:
				if err = d.arithMCU(blocks[:nb], false, nil); err != nil {
					return err
				}
			case sc.ss == 0 && sc.ah == 0:
				if !d.br.insufficient {
					for i := 0; i < nb; i++ {
						if err = d.decodeDCFirst(d.block(blocks[i]), blocks[i].comp); err != nil {
							return err
						}
					}
				}
			case sc.ss == 0:
				// DC refinement reads zero bits harmlessly, so libjpeg does
				// not check for a starved segment here.
				for i := 0; i < nb; i++ {
					if err = d.decodeDCRefine(d.block(blocks[i])); err != nil {
						return err
					}
				}
			case sc.ah == 0:
				if !d.br.insufficient {
					if err = d.decodeACFirst(d.block(blocks[0]), blocks[0].comp); err != nil {
						return err
					}
				}
			default:
				if !d.br.insufficient {
					if err = d.decodeACRefine(d.block(blocks[0]), blocks[0].comp); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// decodeSeqMCU decodes one MCU of a sequential scan. libjpeg-turbo decodes
// an MCU with its fast path (decode_mcu_fast) when no restart interval is
// set, no marker has been met and at least 512 bytes per block of the MCU
// remain in the buffer it was given, and with its careful path otherwise;
// the two refill the bit buffer at different moments, which decides
// whether a file whose entropy-coded data ends at the end of the file,
// without EOI, is complete or truncated. Pillow gives libjpeg the file in
// chunks of 64 KiB: the buffer ends at the end of the last chunk read, and
// when the careful path needs a byte past it, libjpeg suspends and decodes
// the MCU again once Pillow has read the next chunk. This function follows
// the same schedule. (The decoded values never depend on it.)
func (d *jpegDecoder) decodeSeqMCU(blocks []mcuBlock, oneShot bool, mcu *[10][64]int16) error {
	comps := d.scan.comps
	savedBR, savedPos := d.br, d.pos
	var savedDC [4]int32
	for i, c := range comps {
		savedDC[i] = c.lastDC
	}
	defer func() { d.bufEnd = len(d.data) }()
	d.hiPos = max(d.hiPos, d.pos)
	tryFast := true
	for {
		d.bufEnd = d.pillowBufEnd() // d.pos <= d.hiPos here
		fast := tryFast && d.restartEvery == 0 && d.br.marker == 0 && d.bufEnd-d.pos >= 512*len(blocks)
		err := d.decodeSeqBlocks(blocks, oneShot, fast, mcu)
		if err != errSuspend && err != errFastMarker {
			return err
		}
		d.br, d.pos = savedBR, savedPos
		for i, c := range comps {
			c.lastDC = savedDC[i]
		}
		// After a marker the careful path decodes the MCU; after a
		// suspension the choice is made again with the larger buffer.
		tryFast = err == errSuspend
	}
}

// decodeSeqBlocks decodes the blocks of one sequential MCU, with
// decode_mcu_fast's refills when fast is set.
func (d *jpegDecoder) decodeSeqBlocks(blocks []mcuBlock, oneShot, fast bool, mcu *[10][64]int16) error {
	if oneShot {
		for i := range blocks {
			mcu[i] = [64]int16{}
		}
	}
	if d.br.insufficient {
		return nil
	}
	for i, b := range blocks {
		blk := &mcu[i]
		if !oneShot {
			blk = d.block(b)
		}
		var err error
		if fast {
			err = d.decodeBlockFast(blk, b.comp)
		} else {
			err = d.decodeBlock(blk, b.comp)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fastRefill is decode_mcu_fast's refill of six bytes (the caller made
// sure they are there). ok is false at a marker.
func fastRefill(data []byte, pos int, buf uint64, n int) (uint64, int, int, bool) {
	b := data[pos : pos+6 : pos+6]
	if b[0] != 0xFF && b[1] != 0xFF && b[2] != 0xFF && b[3] != 0xFF && b[4] != 0xFF && b[5] != 0xFF {
		buf = buf<<48 | uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
		return buf, n + 48, pos + 6, true
	}
	return fastRefillFF(data, pos, buf, n)
}

// fastRefillFF is fastRefill byte by byte, for data with an 0xFF byte.
func fastRefillFF(data []byte, pos int, buf uint64, n int) (uint64, int, int, bool) {
	for i := 0; i < 6; i++ {
		c := data[pos]
		pos++
		if c == 0xFF {
			if data[pos] != 0 {
				return buf, n, pos, false
			}
			pos++
		}
		buf = buf<<8 | uint64(c)
		n += 8
	}
	return buf, n, pos, true
}

// fastSymbol decodes a Huffman symbol with at least 17 bits buffered.
func fastSymbol(t *huffTable, buf uint64, n int) (int, int) {
	v := t.lookup[(buf>>uint(n-lookBits))&(1<<lookBits-1)]
	if v>>8 <= lookBits {
		return int(v & 0xFF), n - int(v>>8)
	}
	return longSymbol(t, buf, n)
}

// longSymbol decodes a code longer than lookBits.
func longSymbol(t *huffTable, buf uint64, n int) (int, int) {
	nb := lookBits + 1
	n -= nb
	code := int32(buf>>uint(n)) & (1<<nb - 1)
	for code > t.maxcode[nb] {
		n--
		code = code<<1 | int32(buf>>uint(n))&1
		nb++
	}
	if nb > 16 {
		return 0, n
	}
	return int(t.vals[uint8(code+t.valoffset[nb])]), n
}

// decodeBlockFast is decodeBlock with decode_mcu_fast's refills, keeping
// the bit reader in local variables.
func (d *jpegDecoder) decodeBlockFast(blk *[64]int16, c *jpegComponent) error {
	data := d.data
	buf, n, pos := d.br.buf, d.br.n, d.pos
	ok := true
	if n <= 16 {
		if buf, n, pos, ok = fastRefill(data, pos, buf, n); !ok {
			return errFastMarker
		}
	}
	s, n := fastSymbol(&d.dcTables[c.dcTbl], buf, n)
	var diff int32
	if s != 0 {
		if n <= 16 {
			if buf, n, pos, ok = fastRefill(data, pos, buf, n); !ok {
				return errFastMarker
			}
		}
		n -= s
		diff = extend(int32(buf>>uint(n))&(1<<s-1), s)
	}
	c.lastDC += diff
	blk[0] = int16(c.lastDC)
	ac := &d.acTables[c.acTbl]
	for k := 1; k < 64; k++ {
		if n <= 16 {
			if buf, n, pos, ok = fastRefill(data, pos, buf, n); !ok {
				return errFastMarker
			}
		}
		var rs int
		rs, n = fastSymbol(ac, buf, n)
		r, s := rs>>4, rs&15
		if s != 0 {
			k += r
			if n <= 16 {
				if buf, n, pos, ok = fastRefill(data, pos, buf, n); !ok {
					return errFastMarker
				}
			}
			n -= s
			blk[naturalOrder[k&127]&63] = int16(extend(int32(buf>>uint(n))&(1<<s-1), s))
		} else {
			if r != 15 {
				break
			}
			k += 15
		}
	}
	d.br.buf, d.br.n, d.pos = buf, n, pos
	return nil
}

// block returns the stored coefficients of an MCU block.
func (d *jpegDecoder) block(b mcuBlock) *[64]int16 {
	off := (b.by*b.comp.bwPad + b.bx) * 64
	return (*[64]int16)(b.comp.coefs[off : off+64])
}

// decodeBlock decodes one block of a sequential scan.
func (d *jpegDecoder) decodeBlock(blk *[64]int16, c *jpegComponent) error {
	diff, err := d.dcDiff(c)
	if err != nil {
		return err
	}
	c.lastDC += diff
	blk[0] = int16(c.lastDC)
	ac := &d.acTables[c.acTbl]
	for k := 1; k < 64; k++ {
		r, s, v, err := d.acCoef(ac)
		if err != nil {
			return err
		}
		if s != 0 {
			k += r
			blk[naturalOrder[k]] = int16(v)
		} else {
			if r != 15 {
				break
			}
			k += 15
		}
	}
	return nil
}

// acCoef decodes an AC symbol, the zero run r and the size s, and for
// s > 0 the s bits of the coefficient's value v.
func (d *jpegDecoder) acCoef(t *huffTable) (r, s int, v int32, err error) {
	rs, err := d.huff(t)
	if err != nil {
		return 0, 0, 0, err
	}
	r, s = rs>>4, rs&15
	if s != 0 {
		var b int32
		if b, err = d.bits(s); err != nil {
			return 0, 0, 0, err
		}
		v = extend(b, s)
	}
	return r, s, v, nil
}

// dcDiff decodes a DC difference: its size category, then that many bits.
func (d *jpegDecoder) dcDiff(c *jpegComponent) (int32, error) {
	s, err := d.huff(&d.dcTables[c.dcTbl])
	if err != nil || s == 0 {
		return 0, err
	}
	r, err := d.bits(s)
	if err != nil {
		return 0, err
	}
	return extend(r, s), nil
}

func (d *jpegDecoder) decodeDCFirst(blk *[64]int16, c *jpegComponent) error {
	diff, err := d.dcDiff(c)
	if err != nil {
		return err
	}
	sum := int64(c.lastDC) + int64(diff)
	if sum > 1<<31-1 || sum < -1<<31 {
		return jpegErr("DC coefficient out of range")
	}
	c.lastDC = int32(sum)
	blk[0] = int16(uint32(c.lastDC) << uint(d.scan.al))
	return nil
}

func (d *jpegDecoder) decodeDCRefine(blk *[64]int16) error {
	b, err := d.bits(1)
	if err != nil {
		return err
	}
	if b != 0 {
		blk[0] |= int16(1 << uint(d.scan.al))
	}
	return nil
}

func (d *jpegDecoder) decodeACFirst(blk *[64]int16, c *jpegComponent) error {
	sc := &d.scan
	if sc.eobrun > 0 {
		sc.eobrun--
		return nil
	}
	ac := &d.acTables[c.acTbl]
	for k := sc.ss; k <= sc.se; k++ {
		r, s, v, err := d.acCoef(ac)
		if err != nil {
			return err
		}
		if s != 0 {
			k += r
			blk[naturalOrder[k]] = int16(uint32(v) << uint(sc.al))
		} else {
			if r == 15 {
				k += 15
				continue
			}
			eob := uint32(1) << uint(r)
			if r != 0 {
				v, err := d.bits(r)
				if err != nil {
					return err
				}
				eob += uint32(v)
			}
			sc.eobrun = eob - 1
			break
		}
	}
	return nil
}

func (d *jpegDecoder) decodeACRefine(blk *[64]int16, c *jpegComponent) error {
	sc := &d.scan
	p1 := int16(1) << uint(sc.al)
	m1 := int16(-1) << uint(sc.al)
	ac := &d.acTables[c.acTbl]
	k := sc.ss
	// refine appends a correction bit to an already nonzero coefficient.
	refine := func(pos int) error {
		b, err := d.bits(1)
		if err != nil {
			return err
		}
		if b != 0 && blk[pos]&p1 == 0 {
			if blk[pos] >= 0 {
				blk[pos] += p1
			} else {
				blk[pos] += m1
			}
		}
		return nil
	}
	if sc.eobrun == 0 {
		for ; k <= sc.se; k++ {
			rs, err := d.huff(ac)
			if err != nil {
				return err
			}
			r, s := rs>>4, rs&15
			var val int16
			if s != 0 {
				// A new coefficient is always of size 1 (libjpeg only warns
				// otherwise and uses the sign bit alone).
				b, err := d.bits(1)
				if err != nil {
					return err
				}
				val = m1
				if b != 0 {
					val = p1
				}
			} else if r != 15 {
				sc.eobrun = 1 << uint(r)
				if r != 0 {
					v, err := d.bits(r)
					if err != nil {
						return err
					}
					sc.eobrun += uint32(v)
				}
				break
			}
			for k <= sc.se {
				pos := naturalOrder[k]
				if blk[pos] != 0 {
					if err := refine(pos); err != nil {
						return err
					}
				} else {
					r--
					if r < 0 {
						break
					}
				}
				k++
			}
			if s != 0 {
				blk[naturalOrder[k]] = val
			}
		}
	}
	if sc.eobrun > 0 {
		for ; k <= sc.se; k++ {
			pos := naturalOrder[k]
			if blk[pos] != 0 {
				if err := refine(pos); err != nil {
					return err
				}
			}
		}
		sc.eobrun--
	}
	return nil
}
