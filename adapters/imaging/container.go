package imaging

import (
	"encoding/binary"
	"hash/crc32"
)

// Walkers over the structure of the accepted file formats, for the metadata
// the decoders do not return (orientation, colour profile) and for what the
// memory estimate needs from the headers. Each only follows lengths that stay
// inside the data, so a hostile file cannot make it loop or read out of
// bounds; on the first inconsistency it stops.

// jpegWalk calls fn with the marker and the payload (after the length field)
// of each JPEG segment before the first scan, in file order, until fn returns
// false.
func jpegWalk(b []byte, fn func(marker byte, seg []byte) bool) {
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || m == 0xD8 || m >= 0xD0 && m <= 0xD7: // markers without a length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image
			return
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return
		}
		if !fn(m, b[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// pngSignatureAndIHDR is the length of the PNG signature and of the IHDR
// chunk, which must come first: where the chunks after IHDR start.
const pngSignatureAndIHDR = 8 + 8 + 13 + 4

// pngWalk calls fn with the type and data of each PNG chunk up to IEND, and
// a function that checks its CRC, until fn returns false.
func pngWalk(b []byte, fn func(typ string, data []byte, crcOK func() bool) bool) {
	for i := 8; i+12 <= len(b); {
		n := binary.BigEndian.Uint32(b[i:])
		if n > uint32(len(b)-i-12) {
			return
		}
		typ := string(b[i+4 : i+8])
		end := i + 8 + int(n)
		chunk, crc := b[i+4:end], binary.BigEndian.Uint32(b[end:])
		crcOK := func() bool { return crc32.ChecksumIEEE(chunk) == crc }
		if typ == "IEND" || !fn(typ, b[i+8:end], crcOK) {
			return
		}
		i = end + 4
	}
}

// webpWalk calls fn with the four-character code and data of each chunk of a
// WebP file, until fn returns false.
func webpWalk(b []byte, fn func(fourCC string, data []byte) bool) {
	for i := 12; i+8 <= len(b); {
		n := binary.LittleEndian.Uint32(b[i+4:])
		if n > uint32(len(b)-i-8) {
			return
		}
		if !fn(string(b[i:i+4]), b[i+8:i+8+int(n)]) {
			return
		}
		i += 8 + int(n) + int(n&1) // chunks are padded to an even size
	}
}
