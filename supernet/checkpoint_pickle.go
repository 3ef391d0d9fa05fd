package supernet

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// scanPickle walks the opcodes of the pickle at the start of p without
// executing them and returns the length of the pickle (up to and including
// STOP). It fails on an unknown opcode or on any argument that runs past
// the end of p, which is what keeps a corrupt or hostile length field from
// turning into a huge allocation inside the unpickler.
func scanPickle(p []byte) (int, error) {
	i := 0
	need := func(n uint64) error {
		if n > uint64(len(p)-i) {
			return fmt.Errorf("pickle opcode at byte %d needs %d bytes, %d left: %w", i, n, len(p)-i, ErrTruncated)
		}
		return nil
	}
	line := func() error {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return fmt.Errorf("pickle line argument at byte %d has no end: %w", i, ErrTruncated)
		}
		i += j + 1
		return nil
	}
	for i < len(p) {
		op := p[i]
		i++
		var n uint64 // fixed argument bytes
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		case 'K', 'h', 'q', 0x80, 0x82:
			n = 1
		case 'M', 0x83:
			n = 2
		case 'J', 'j', 'r', 0x84:
			n = 4
		case 'G':
			n = 8
		case 0x95: // FRAME: the frame's opcodes follow inline
			if err := need(8); err != nil {
				return 0, err
			}
			if err := need(8 + binary.LittleEndian.Uint64(p[i:])); err != nil {
				return 0, err
			}
			n = 8
		case 'F', 'I', 'L', 'P', 'S', 'V', 'g', 'p':
			if err := line(); err != nil {
				return 0, err
			}
		case 'c', 'i':
			if err := line(); err != nil {
				return 0, err
			}
			if err := line(); err != nil {
				return 0, err
			}
		case 'U', 'C', 0x8c, 0x8a: // 1-byte length, then data
			if err := need(1); err != nil {
				return 0, err
			}
			n = 1 + uint64(p[i])
		case 'T', 'X', 'B', 0x8b: // 4-byte length, then data
			if err := need(4); err != nil {
				return 0, err
			}
			l := binary.LittleEndian.Uint32(p[i:])
			if (op == 'T' || op == 0x8b) && int32(l) < 0 {
				return 0, fmt.Errorf("pickle opcode at byte %d has a negative length", i-1)
			}
			n = 4 + uint64(l)
		case 0x8d, 0x8e, 0x96: // 8-byte length, then data
			if err := need(8); err != nil {
				return 0, err
			}
			l := binary.LittleEndian.Uint64(p[i:])
			if l > uint64(len(p)) {
				return 0, fmt.Errorf("pickle opcode at byte %d has length %d: %w", i-1, l, ErrTruncated)
			}
			n = 8 + l
		default:
			return 0, fmt.Errorf("byte 0x%02x at offset %d is not a pickle opcode: %w", op, i-1, ErrNotCheckpoint)
		}
		if err := need(n); err != nil {
			return 0, err
		}
		i += int(n)
	}
	return 0, fmt.Errorf("pickle has no STOP opcode: %w", ErrTruncated)
}
