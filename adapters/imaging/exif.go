package imaging

import (
	"bytes"
	"encoding/binary"
)

// EXIF orientations (TIFF tag 0x0112): how the stored pixels must be turned to
// be displayed upright.
const (
	orientNormal     = 1 // as stored
	orientFlipH      = 2 // mirrored left-right
	orientRotate180  = 3
	orientFlipV      = 4 // mirrored top-bottom
	orientTranspose  = 5 // mirrored left-right, then rotated 270° clockwise
	orientRotate90   = 6 // rotate 90° clockwise to display
	orientTransverse = 7 // mirrored left-right, then rotated 90° clockwise
	orientRotate270  = 8 // rotate 270° clockwise (90° counter-clockwise) to display
)

// orientation returns the EXIF orientation (1 to 8) of the image in data, 1
// when it has none or it cannot be read. JPEG keeps EXIF in an APP1 segment,
// PNG in an eXIf chunk and WebP in an EXIF chunk; each parser only follows
// lengths that stay inside data (see container.go).
func orientation(f *format, data []byte) int {
	var tiff []byte
	switch f.contentType {
	case "image/jpeg":
		tiff = jpegEXIF(data)
	case "image/png":
		tiff = pngEXIF(data)
	case "image/webp":
		tiff = webpEXIF(data)
	}
	return tiffOrientation(tiff)
}

var exifHeader = []byte("Exif\x00\x00")

// jpegEXIF returns the TIFF block of the first EXIF APP1 segment before the
// image data, nil when there is none.
func jpegEXIF(b []byte) (tiff []byte) {
	jpegWalk(b, func(m byte, seg []byte) bool {
		if m == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			tiff = seg[len(exifHeader):]
			return false
		}
		return true
	})
	return tiff
}

// pngEXIF returns the data of the eXIf chunk, nil when there is none.
func pngEXIF(b []byte) (tiff []byte) {
	pngWalk(b, func(typ string, data []byte, _ func() bool) bool {
		if typ == "eXIf" {
			tiff = data
			return false
		}
		return true
	})
	return tiff
}

// webpEXIF returns the data of the EXIF chunk of an extended WebP file, nil
// when there is none. Some writers keep the "Exif\0\0" prefix of JPEG; it is
// dropped.
func webpEXIF(b []byte) (tiff []byte) {
	webpWalk(b, func(fourCC string, data []byte) bool {
		if fourCC == "EXIF" {
			tiff = bytes.TrimPrefix(data, exifHeader)
			return false
		}
		return true
	})
	return tiff
}

// tiffOrientation reads the Orientation tag of IFD0 of a TIFF block, 1 when
// absent or out of range.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return orientNormal
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return orientNormal
	}
	if bo.Uint16(t[2:]) != 42 {
		return orientNormal
	}
	off := bo.Uint32(t[4:])
	if off > uint32(len(t)-2) {
		return orientNormal
	}
	n := int(bo.Uint16(t[off:]))
	entries := t[off+2:]
	for k := 0; k < n && 12*(k+1) <= len(entries); k++ {
		e := entries[12*k : 12*(k+1)]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		var v uint32
		switch typ, count := bo.Uint16(e[2:]), bo.Uint32(e[4:]); {
		case count != 1:
			return orientNormal
		case typ == 3: // SHORT, stored in the first two bytes of the value field
			v = uint32(bo.Uint16(e[8:]))
		case typ == 4: // LONG, written by a few tools
			v = bo.Uint32(e[8:])
		default:
			return orientNormal
		}
		if v < orientNormal || v > orientRotate270 {
			return orientNormal
		}
		return int(v)
	}
	return orientNormal
}
