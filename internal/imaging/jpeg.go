package imaging

// This file holds the JPEG marker parser and the decoding driver. The
// semantics (what is an error, what is silently tolerated, which colour space
// a file is taken to be in) follow libjpeg-turbo 2.1.5 as Pillow 9.4 drives
// it; the package documentation describes them.

// MaxPixels is the largest image (width times height) the decoders accept:
// Pillow's own limit, twice Image.MAX_IMAGE_PIXELS (89,478,485), above
// which Image.open raises DecompressionBombError, so OFA's loader fails on
// larger images too (between the two Pillow only warns, and decodes).
// Larger declared sizes are refused before any pixel memory is allocated;
// an image at the limit needs about 0.5 GB as 8-bit RGB, and a progressive
// JPEG as much again for its coefficients.
const MaxPixels = 2 * 89_478_485

// maxPixels is MaxPixels; fuzz tests lower it to keep iterations small.
var maxPixels = MaxPixels

// jpegMaxDimension is libjpeg's JPEG_MAX_DIMENSION.
const jpegMaxDimension = 65500

const (
	mSOF0  = 0xC0
	mSOF1  = 0xC1
	mSOF2  = 0xC2
	mSOF3  = 0xC3
	mDHT   = 0xC4
	mSOF5  = 0xC5
	mSOF7  = 0xC7
	mJPG   = 0xC8
	mSOF9  = 0xC9
	mSOF10 = 0xCA
	mSOF11 = 0xCB
	mDAC   = 0xCC
	mSOF13 = 0xCD
	mSOF15 = 0xCF
	mRST0  = 0xD0
	mRST7  = 0xD7
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mAPP0  = 0xE0
	mAPP14 = 0xEE
	mAPP15 = 0xEF
	mCOM   = 0xFE
	mTEM   = 0x01
)

// colour spaces, as libjpeg guesses them
const (
	csGray = iota
	csYCbCr
	csRGB
	csCMYK
	csYCCK
)

type jpegComponent struct {
	id       int
	index    int
	h, v     int
	tq       int
	bw, bh   int // width_in_blocks, height_in_blocks
	bwPad    int // blocks per row in the MCU-padded grid
	bhPad    int
	dsw, dsh int // downsampled width and height: the component's real samples

	quant  *[64]uint16 // latched at the component's first scan (natural order)
	coefs  []int16     // bwPad*bhPad*64, for multi-scan images
	plane  []byte      // bwPad*8 by bhPad*8 samples
	stride int

	// scan state
	dcTbl, acTbl int
	lastDC       int32
	dcContext    int // arithmetic coding: the DC conditioning category
}

type huffDef struct {
	bits [17]uint8
	vals [256]uint8
}

type jpegDecoder struct {
	data []byte
	pos  int

	sawSOF       bool
	progressive  bool
	arith        bool // arithmetic entropy coding (SOF9, SOF10)
	width        int
	height       int
	comps        []jpegComponent
	maxH, maxV   int
	mcusX, mcusY int
	multiScan    bool
	colorSpace   int
	sawJFIF      bool
	sawAdobe     bool
	adobeXform   byte
	restartEvery int
	quant        [4]*[64]uint16
	dcDefs       [4]*huffDef
	acDefs       [4]*huffDef
	dcTables     [4]huffTable
	acTables     [4]huffTable

	// progression status: coefBits[c][k] is the Al of the last scan that
	// coded coefficient k of component c (-1: none yet); prevCoefBits is the
	// same before the current scan began (libjpeg's coef_bits).
	coefBits     [][64]int
	prevCoefBits [][64]int
	scanNumber   int
	// lastGoodIMCURow mirrors libjpeg's last_good_iMCU_row: the last iMCU row
	// in which an MCU was decoded while data was still sufficient.
	lastGoodIMCURow int

	scan scanState
	br   bitReader
	ar   arithDecoder
	// bufEnd is where the data libjpeg has been given ends (the file's
	// end, or the end of Pillow's last chunk; see decodeSeqMCU), hiPos the
	// furthest position read so far.
	bufEnd int
	hiPos  int

	scratch *jpegScratch
}

// scanState describes the scan being decoded.
type scanState struct {
	comps      []*jpegComponent
	ss, se     int
	ah, al     int
	mcusPerRow int
	mcuRows    int
	eobrun     uint32
	restartNum int
}

// readByte returns the next byte of the data or ErrTruncated.
func (d *jpegDecoder) readByte() (byte, error) {
	if d.pos >= len(d.data) {
		return 0, ErrTruncated
	}
	c := d.data[d.pos]
	d.pos++
	return c, nil
}

func (d *jpegDecoder) read2() (int, error) {
	if d.pos+2 > len(d.data) {
		d.pos = len(d.data)
		return 0, ErrTruncated
	}
	v := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	d.pos += 2
	return v, nil
}

// nextMarker skips to the next marker as libjpeg's next_marker does:
// anything up to an 0xFF is discarded, fill bytes 0xFF are swallowed and a
// stuffed 0xFF 0x00 pair is discarded too.
func (d *jpegDecoder) nextMarker() (byte, error) {
	for {
		c, err := d.readByte()
		if err != nil {
			return 0, err
		}
		for c != 0xFF {
			if c, err = d.readByte(); err != nil {
				return 0, err
			}
		}
		for c == 0xFF {
			if c, err = d.readByte(); err != nil {
				return 0, err
			}
		}
		if c != 0 {
			return c, nil
		}
	}
}

// segment returns the payload of a marker segment whose length field is
// next in the data.
func (d *jpegDecoder) segment() ([]byte, error) {
	n, err := d.read2()
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, jpegErr("marker segment length %d is below 2", n)
	}
	n -= 2
	if d.pos+n > len(d.data) {
		d.pos = len(d.data)
		return nil, ErrTruncated
	}
	s := d.data[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

// skipSegment skips a variable-length marker segment (libjpeg's
// skip_variable, which tolerates lengths below 2 as empty).
func (d *jpegDecoder) skipSegment() error {
	n, err := d.read2()
	if err != nil {
		return err
	}
	n -= 2
	if n > 0 {
		if d.pos+n > len(d.data) {
			d.pos = len(d.data)
			return ErrTruncated
		}
		d.pos += n
	}
	return nil
}

// decodeJPEG decodes a whole JPEG file into an RGB image.
func decodeJPEG(data []byte, dst *RGB) error {
	if len(data) < 3 || data[0] != 0xFF || data[1] != mSOI || data[2] != 0xFF {
		return jpegErr("no SOI marker at the start")
	}
	d := jpegDecoder{data: data, pos: 2, bufEnd: len(data)}
	d.ar.resetConditioning()
	d.scratch = getScratch()
	defer putScratch(d.scratch)
	if err := d.decode(); err != nil {
		return err
	}
	return d.output(dst)
}

// decode reads all markers and scans up to EOI (or, for single-scan images,
// up to the end of the data after the scan).
func (d *jpegDecoder) decode() error {
	// Markers before the first scan.
	if err := d.headerMarkers(); err != nil {
		return err
	}
	if err := d.setupFrame(); err != nil {
		return err
	}
	for {
		if err := d.decodeScan(); err != nil {
			return err
		}
		// After a scan: markers until the next scan or EOI.
		more, err := d.betweenScans()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// headerMarkers processes markers up to and including the first SOS.
func (d *jpegDecoder) headerMarkers() error {
	for {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		done, err := d.processMarker(m, true)
		if err != nil || done {
			return err
		}
	}
}

// betweenScans processes markers after a scan. It reports whether another
// scan follows. For a single-scan image the end of the data after the scan
// is accepted (Pillow keeps an image whose rows are all decoded when the EOI
// marker is missing); for multi-scan images the data must reach EOI.
func (d *jpegDecoder) betweenScans() (bool, error) {
	for {
		m := d.br.marker
		d.br.marker = 0
		if m == 0 {
			var err error
			m, err = d.nextMarker()
			if err == ErrTruncated && !d.multiScan {
				return false, nil
			}
			if err != nil {
				return false, err
			}
		}
		if m == mEOI {
			return false, nil
		}
		if m == mSOS && !d.multiScan {
			return false, jpegErr("a second scan follows the only scan of a single-scan image")
		}
		done, err := d.processMarker(m, false)
		if err == ErrTruncated && !d.multiScan {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if done {
			return true, nil
		}
	}
}

// processMarker handles one marker. It reports true after an SOS header has
// been read (the scan's entropy-coded data follows).
func (d *jpegDecoder) processMarker(m byte, inHeaders bool) (bool, error) {
	switch {
	case m == mSOI:
		return false, jpegErr("duplicate SOI marker")
	case m == mSOF0 || m == mSOF1 || m == mSOF2 || m == mSOF9 || m == mSOF10:
		return false, d.parseSOF(m)
	case m == mSOF3 || m == mSOF11:
		return false, jpegUnsupported("lossless JPEG (SOF%d)", m-mSOF0)
	case (m >= mSOF5 && m <= mSOF7) || (m >= mSOF13 && m <= mSOF15):
		return false, jpegUnsupported("hierarchical JPEG (SOF%d)", m-mSOF0)
	case m == mJPG:
		return false, jpegUnsupported("JPEG extension marker 0xFFC8")
	case m == mSOS:
		if !d.sawSOF {
			return false, jpegErr("scan (SOS) before the frame header (SOF)")
		}
		return true, d.parseSOS()
	case m == mEOI:
		return false, jpegErr("the file ends (EOI) before any image data")
	case m == mDAC:
		return false, d.parseDAC()
	case m == mDHT:
		return false, d.parseDHT()
	case m == mDQT:
		return false, d.parseDQT()
	case m == mDRI:
		return false, d.parseDRI()
	case m >= mAPP0 && m <= mAPP15:
		return false, d.parseAPP(m)
	case m == mCOM || m == mDNL:
		return false, d.skipSegment()
	case m >= mRST0 && m <= mRST7:
		return false, nil
	case m == mTEM:
		if inHeaders {
			// Pillow's own header parser refuses this marker.
			return false, jpegErr("unexpected marker 0xFF01 in the header")
		}
		return false, nil
	default:
		return false, jpegErr("unknown marker 0xFF%02X", m)
	}
}

func (d *jpegDecoder) parseSOF(m byte) error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	if d.sawSOF {
		return jpegErr("duplicate frame header (SOF)")
	}
	if len(s) < 6 {
		return jpegErr("frame header too short")
	}
	precision := int(s[0])
	d.height = int(s[1])<<8 | int(s[2])
	d.width = int(s[3])<<8 | int(s[4])
	n := int(s[5])
	if precision != 8 {
		return jpegUnsupported("%d-bit samples", precision)
	}
	if d.height == 0 || d.width == 0 || n == 0 {
		return jpegErr("empty image (%dx%d, %d components)", d.width, d.height, n)
	}
	if len(s) != 6+3*n {
		return jpegErr("frame header length does not match its %d components", n)
	}
	if n != 1 && n != 3 && n != 4 {
		return jpegUnsupported("%d colour components (Pillow reads 1, 3 or 4)", n)
	}
	d.progressive = m == mSOF2 || m == mSOF10
	d.arith = m == mSOF9 || m == mSOF10
	d.comps = make([]jpegComponent, n)
	for i := range d.comps {
		c := &d.comps[i]
		c.index = i
		c.id = int(s[6+3*i])
		c.h = int(s[7+3*i] >> 4)
		c.v = int(s[7+3*i] & 15)
		c.tq = int(s[8+3*i])
	}
	d.sawSOF = true
	return nil
}

func (d *jpegDecoder) parseDHT() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 16 {
		index := int(s[0])
		def := &huffDef{}
		count := 0
		for i := 1; i <= 16; i++ {
			def.bits[i] = s[i]
			count += int(s[i])
		}
		s = s[17:]
		if count > 256 || count > len(s) {
			return jpegErr("bad Huffman table")
		}
		copy(def.vals[:], s[:count])
		s = s[count:]
		if index&0x10 != 0 {
			index -= 0x10
			if index >= 4 {
				return jpegErr("bad Huffman table index %d", index)
			}
			d.acDefs[index] = def
		} else {
			if index >= 4 {
				return jpegErr("bad Huffman table index %d", index)
			}
			d.dcDefs[index] = def
		}
	}
	if len(s) != 0 {
		return jpegErr("bad Huffman table segment length")
	}
	return nil
}

func (d *jpegDecoder) parseDQT() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 0 {
		prec := s[0] >> 4
		n := int(s[0] & 15)
		s = s[1:]
		if n >= 4 {
			return jpegErr("bad quantization table index %d", n)
		}
		size := 64
		if prec != 0 {
			size = 128
		}
		if len(s) < size {
			return jpegErr("bad quantization table segment length")
		}
		q := d.quant[n]
		if q == nil {
			q = new([64]uint16)
			d.quant[n] = q
		}
		for i := 0; i < 64; i++ {
			if prec != 0 {
				q[naturalOrder[i]] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
			} else {
				q[naturalOrder[i]] = uint16(s[i])
			}
		}
		s = s[size:]
	}
	return nil
}

func (d *jpegDecoder) parseDRI() error {
	n, err := d.read2()
	if err != nil {
		return err
	}
	if n != 4 {
		return jpegErr("bad restart interval segment length")
	}
	v, err := d.read2()
	if err != nil {
		return err
	}
	d.restartEvery = v
	return nil
}

// parseAPP notes JFIF (APP0) and Adobe (APP14) markers, which decide the
// colour space, and skips every other application segment.
func (d *jpegDecoder) parseAPP(m byte) error {
	if m != mAPP0 && m != mAPP14 {
		return d.skipSegment()
	}
	n, err := d.read2()
	if err != nil {
		return err
	}
	n = max(n-2, 0) // libjpeg reads a shorter length as an empty segment
	if d.pos+n > len(d.data) {
		d.pos = len(d.data)
		return ErrTruncated
	}
	s := d.data[d.pos : d.pos+n]
	d.pos += n
	if m == mAPP0 {
		if len(s) >= 14 && s[0] == 'J' && s[1] == 'F' && s[2] == 'I' && s[3] == 'F' && s[4] == 0 {
			d.sawJFIF = true
		}
		return nil
	}
	if len(s) >= 12 && s[0] == 'A' && s[1] == 'd' && s[2] == 'o' && s[3] == 'b' && s[4] == 'e' {
		d.sawAdobe = true
		d.adobeXform = s[11]
	}
	return nil
}

func (d *jpegDecoder) parseSOS() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	if len(s) < 1 {
		return jpegErr("bad scan header length")
	}
	n := int(s[0])
	if len(s) != 4+2*n || n < 1 || n > 4 {
		return jpegErr("bad scan header length")
	}
	sc := &d.scan
	sc.comps = sc.comps[:0]
	for i := 0; i < n; i++ {
		cid := int(s[1+2*i])
		tbl := s[2+2*i]
		var found *jpegComponent
		for ci := range d.comps {
			c := &d.comps[ci]
			if c.id == cid && !inScan(sc.comps, c) {
				found = c
				break
			}
		}
		if found == nil {
			return jpegErr("scan refers to unknown component id %d", cid)
		}
		found.dcTbl = int(tbl >> 4)
		found.acTbl = int(tbl & 15)
		sc.comps = append(sc.comps, found)
	}
	p := s[1+2*n:]
	sc.ss = int(p[0])
	sc.se = int(p[1])
	sc.ah = int(p[2] >> 4)
	sc.al = int(p[2] & 15)
	sc.restartNum = 0
	d.scanNumber++
	return nil
}

func inScan(list []*jpegComponent, c *jpegComponent) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// setupFrame computes the component geometry at the first scan, as
// libjpeg's initial_setup does, and guesses the colour space.
func (d *jpegDecoder) setupFrame() error {
	if err := d.checkGeometry(); err != nil {
		return err
	}
	d.multiScan = d.progressive || len(d.scan.comps) < len(d.comps)
	switch len(d.comps) {
	case 1:
		d.colorSpace = csGray
	case 3:
		d.colorSpace = csYCbCr
		switch {
		case d.sawJFIF:
		case d.sawAdobe:
			if d.adobeXform == 0 {
				d.colorSpace = csRGB
			}
		default:
			c0, c1, c2 := d.comps[0].id, d.comps[1].id, d.comps[2].id
			if c0 == 'R' && c1 == 'G' && c2 == 'B' {
				d.colorSpace = csRGB
			}
		}
	case 4:
		d.colorSpace = csCMYK
		if d.sawAdobe && d.adobeXform != 0 {
			d.colorSpace = csYCCK
		}
	}

	// Allocate sample planes (and coefficients for multi-scan images).
	sc := d.scratch
	total := 0
	for i := range d.comps {
		c := &d.comps[i]
		total += c.bwPad * 8 * c.bhPad * 8
	}
	planes := grow(&sc.planes, total)
	off := 0
	for i := range d.comps {
		c := &d.comps[i]
		n := c.bwPad * 8 * c.bhPad * 8
		c.plane = planes[off : off+n : off+n]
		off += n
	}
	if d.multiScan {
		total = 0
		for i := range d.comps {
			total += d.comps[i].bwPad * d.comps[i].bhPad * 64
		}
		coefs := grow(&sc.coefs, total)
		clear(coefs)
		off = 0
		for i := range d.comps {
			c := &d.comps[i]
			n := c.bwPad * c.bhPad * 64
			c.coefs = coefs[off : off+n : off+n]
			off += n
		}
		if d.progressive {
			d.coefBits = make([][64]int, len(d.comps))
			d.prevCoefBits = make([][64]int, len(d.comps))
			for i := range d.coefBits {
				for k := range d.coefBits[i] {
					d.coefBits[i][k] = -1
				}
			}
		}
	}
	return nil
}

// checkGeometry validates the frame's size and sampling factors and
// computes the component geometry (libjpeg's initial_setup).
func (d *jpegDecoder) checkGeometry() error {
	if d.height > jpegMaxDimension || d.width > jpegMaxDimension {
		return jpegErr("image is %dx%d, above the JPEG limit of %d per side", d.width, d.height, jpegMaxDimension)
	}
	if d.width*d.height > maxPixels {
		return &TooLargeError{Width: d.width, Height: d.height, Limit: maxPixels}
	}
	d.maxH, d.maxV = 1, 1
	for i := range d.comps {
		c := &d.comps[i]
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return jpegErr("bad sampling factors %dx%d", c.h, c.v)
		}
		d.maxH = max(d.maxH, c.h)
		d.maxV = max(d.maxV, c.v)
	}
	d.mcusX = ceilDiv(d.width, d.maxH*8)
	d.mcusY = ceilDiv(d.height, d.maxV*8)
	for i := range d.comps {
		c := &d.comps[i]
		if d.maxH%c.h != 0 || d.maxV%c.v != 0 {
			return jpegUnsupported("fractional sampling factors (%dx%d against %dx%d)", c.h, c.v, d.maxH, d.maxV)
		}
		c.bw = ceilDiv(d.width*c.h, d.maxH*8)
		c.bh = ceilDiv(d.height*c.v, d.maxV*8)
		c.bwPad = d.mcusX * c.h
		c.bhPad = d.mcusY * c.v
		c.dsw = ceilDiv(d.width*c.h, d.maxH)
		c.dsh = ceilDiv(d.height*c.v, d.maxV)
		c.stride = c.bwPad * 8
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// naturalOrder maps zigzag positions to natural (row-major) positions. The
// extra entries catch run lengths that overshoot the block in corrupt data
// (the last coefficient), as libjpeg's table does.
var naturalOrder = [128]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
}
