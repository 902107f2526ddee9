package porttest

import (
	"encoding/binary"
)

// ImagesGPSMarker is planted in the GPS block of ImagesEXIF so tests can check
// that no variant leaks it.
const ImagesGPSMarker = "CLOUDPOST-GPS-52.5200N-13.4050E"

// ImagesEXIF returns an EXIF TIFF block (big-endian, without the "Exif\0\0"
// prefix of JPEG APP1) whose IFD0 holds the Orientation tag (1 to 8) and a GPS
// IFD with a latitude and ImagesGPSMarker as its processing method.
func ImagesEXIF(orientation int) []byte {
	be := binary.BigEndian
	t := []byte{'M', 'M', 0, 42, 0, 0, 0, 8}
	entry := func(tag, typ uint16, count, value uint32) {
		t = be.AppendUint16(t, tag)
		t = be.AppendUint16(t, typ)
		t = be.AppendUint32(t, count)
		t = be.AppendUint32(t, value)
	}
	const (
		ifd0   = 8
		gpsIFD = ifd0 + 2 + 2*12 + 4 // 38
		latOff = gpsIFD + 2 + 3*12 + 4
		mrkOff = latOff + 3*8
	)
	// IFD0: Orientation (SHORT, value left-justified) and the GPS IFD pointer.
	t = be.AppendUint16(t, 2)
	entry(0x0112, 3, 1, uint32(orientation)<<16)
	entry(0x8825, 4, 1, gpsIFD)
	t = be.AppendUint32(t, 0)
	// GPS IFD: GPSLatitudeRef "N", GPSLatitude 52/1 31/1 1234/100 and
	// GPSProcessingMethod holding the marker.
	t = be.AppendUint16(t, 3)
	entry(0x0001, 2, 2, uint32('N')<<24)
	entry(0x0002, 5, 3, latOff)
	entry(0x001B, 7, uint32(len(ImagesGPSMarker)), mrkOff)
	t = be.AppendUint32(t, 0)
	for _, r := range [][2]uint32{{52, 1}, {31, 1}, {1234, 100}} {
		t = be.AppendUint32(t, r[0])
		t = be.AppendUint32(t, r[1])
	}
	return append(t, ImagesGPSMarker...)
}

// ImagesJPEGWithEXIF returns the JPEG file jpg with an APP1 EXIF segment
// holding the TIFF block tiff inserted right after its SOI marker.
func ImagesJPEGWithEXIF(jpg, tiff []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+6+len(tiff)))
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
