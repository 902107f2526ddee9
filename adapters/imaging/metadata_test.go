package imaging

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"slices"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// Marked values planted in every kind of metadata block: none may appear in
// a variant.
const (
	secretMakerNote = "MAKERNOTE-SERIAL-0042-SECRET"
	secretXMP       = "XMP-GPS-52.5200N-SECRET"
	secretIPTC      = "IPTC-CAPTION-SECRET"
	secretComment   = "COM-COMMENT-SECRET"
	secretText      = "PNG-TEXT-SECRET"
	secretZText     = "PNG-ZTXT-SECRET"
	secretIText     = "PNG-ITXT-XMP-SECRET"
)

var secrets = []string{porttest.ImagesGPSMarker, secretMakerNote, secretXMP, secretIPTC, secretComment, secretText, secretZText, secretIText}

// exifWithMakerNote returns an EXIF TIFF block (big-endian, no "Exif\0\0")
// whose IFD0 holds the orientation, an Exif IFD with a MakerNote holding
// secretMakerNote, and a GPS IFD with porttest.ImagesGPSMarker.
func exifWithMakerNote(orientation int) []byte {
	be := binary.BigEndian
	t := []byte{'M', 'M', 0, 42, 0, 0, 0, 8}
	entry := func(tag, typ uint16, count, value uint32) {
		t = be.AppendUint16(t, tag)
		t = be.AppendUint16(t, typ)
		t = be.AppendUint32(t, count)
		t = be.AppendUint32(t, value)
	}
	const (
		ifd0    = 8
		exifIFD = ifd0 + 2 + 3*12 + 4
		gpsIFD  = exifIFD + 2 + 1*12 + 4
		note    = uint32(gpsIFD + 2 + 1*12 + 4)
		gpsData = note + uint32(len(secretMakerNote))
	)
	t = be.AppendUint16(t, 3)
	entry(0x0112, 3, 1, uint32(orientation)<<16)
	entry(0x8769, 4, 1, exifIFD)
	entry(0x8825, 4, 1, gpsIFD)
	t = be.AppendUint32(t, 0)
	t = be.AppendUint16(t, 1)
	entry(0x927C, 7, uint32(len(secretMakerNote)), note) // MakerNote, UNDEFINED
	t = be.AppendUint32(t, 0)
	t = be.AppendUint16(t, 1)
	entry(0x001B, 7, uint32(len(porttest.ImagesGPSMarker)), gpsData) // GPSProcessingMethod
	t = be.AppendUint32(t, 0)
	t = append(t, secretMakerNote...)
	return append(t, porttest.ImagesGPSMarker...)
}

func xmpPacket(secret string) []byte {
	return []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">` +
		`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="` +
		secret + `"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
}

// jpegWithEverything returns jpg with, after SOI: EXIF (GPS, MakerNote),
// XMP, IPTC (Photoshop IRB), a comment and the profile.
func jpegWithEverything(jpg, profile []byte) []byte {
	seg := func(m byte, payload []byte) []byte {
		s := []byte{0xFF, m, 0, 0}
		binary.BigEndian.PutUint16(s[2:], uint16(2+len(payload)))
		return append(s, payload...)
	}
	iptc := []byte{0x1C, 0x02, 0x78, 0, byte(len(secretIPTC))} // record 2, dataset 120: caption
	iptc = append(iptc, secretIPTC...)
	irb := []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00") // resource 0x0404 (IPTC), empty name
	irb = binary.BigEndian.AppendUint32(irb, uint32(len(iptc)))
	irb = append(irb, iptc...)
	if len(irb)%2 == 1 {
		irb = append(irb, 0)
	}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg(0xE1, append([]byte("Exif\x00\x00"), exifWithMakerNote(1)...))...)
	out = append(out, seg(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpPacket(secretXMP)...))...)
	out = append(out, seg(0xED, irb)...)
	out = append(out, seg(0xFE, []byte(secretComment))...)
	out = append(out, jpg[2:]...)
	return porttest.ImagesJPEGWithICC(out, profile)
}

// pngWithEverything returns png with eXIf (GPS, MakerNote), tEXt, zTXt,
// iTXt (XMP), tIME and the profile before the image data, and more text
// after it.
func pngWithEverything(png, profile []byte) []byte {
	itxt := append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), xmpPacket(secretIText)...)
	out := pngInsert(png, false,
		pngChunk("eXIf", exifWithMakerNote(1)),
		pngChunk("tEXt", []byte("Comment\x00"+secretText)),
		pngChunk("zTXt", append([]byte("Comment\x00\x00"), zlibBytes([]byte(secretZText))...)),
		pngChunk("iTXt", itxt),
		pngChunk("tIME", []byte{0x07, 0xE8, 1, 2, 3, 4, 5}),
	)
	out = pngInsert(out, true, pngChunk("tEXt", []byte("Author\x00"+secretText)))
	return porttest.ImagesPNGWithICC(out, profile)
}

// webpWithEverything returns a lossless WebP of m with EXIF (GPS,
// MakerNote), XMP and the profile.
func webpWithEverything(m image.Image, profile []byte) []byte {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	vp8x := []byte{0x20 | 0x08 | 0x04, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	return porttest.ImagesRIFF(
		porttest.ImagesWebPChunk("VP8X", vp8x),
		porttest.ImagesWebPChunk("ICCP", profile),
		porttest.ImagesLosslessWebP(m)[12:],
		porttest.ImagesWebPChunk("EXIF", exifWithMakerNote(1)),
		porttest.ImagesWebPChunk("XMP ", xmpPacket(secretXMP)),
	)
}

// structure is what walkStructure found in a variant.
type structure struct {
	parts       []string // JPEG markers ("FFD8", ...) or PNG chunk types, in order
	iccSegments int
}

// walkStructure walks the whole of an encoded variant and fails the test
// unless it holds only what an encoder needs, plus the ICC profile: for
// JPEG, SOI, DQT, SOF0, DHT, one SOS and its entropy-coded data, EOI, and
// APP2 ICC_PROFILE segments (right after SOI); for PNG, IHDR, iCCP (right
// after it), PLTE, tRNS, IDAT and IEND with correct CRCs. Nothing may
// follow the end.
func walkStructure(t *testing.T, v domain.Variant) structure {
	t.Helper()
	b := v.Data
	be := binary.BigEndian
	var st structure
	switch v.ContentType {
	case "image/jpeg":
		if !bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
			t.Fatalf("%s: no SOI", v.Name)
		}
		st.parts = append(st.parts, "FFD8")
		i := 2
		for {
			if i+2 > len(b) || b[i] != 0xFF {
				t.Fatalf("%s: no marker at %d", v.Name, i)
			}
			m := b[i+1]
			st.parts = append(st.parts, "FF"+string("0123456789ABCDEF"[m>>4])+string("0123456789ABCDEF"[m&15]))
			if m == 0xD9 {
				if i+2 != len(b) {
					t.Fatalf("%s: %d bytes after EOI", v.Name, len(b)-i-2)
				}
				break
			}
			if i+4 > len(b) {
				t.Fatalf("%s: truncated segment", v.Name)
			}
			n := int(be.Uint16(b[i+2:]))
			if n < 2 || i+2+n > len(b) {
				t.Fatalf("%s: segment length %d past the end", v.Name, n)
			}
			payload := b[i+4 : i+2+n]
			switch m {
			case 0xDB, 0xC0, 0xC4:
			case 0xE2:
				if !bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00")) {
					t.Errorf("%s: APP2 segment that is not an ICC profile", v.Name)
				}
				if len(st.parts) != 2+st.iccSegments {
					t.Errorf("%s: ICC profile segment not right after SOI", v.Name)
				}
				st.iccSegments++
			case 0xDA:
				i += 2 + n
				// Entropy-coded data: 0xFF only as FF00 (stuffing) or a
				// restart marker, until the next marker.
				for i < len(b) && (b[i] != 0xFF || i+1 < len(b) && (b[i+1] == 0 || b[i+1] >= 0xD0 && b[i+1] <= 0xD7)) {
					if b[i] == 0xFF {
						i++
					}
					i++
				}
				continue
			default:
				t.Errorf("%s: segment FF%02X", v.Name, m)
			}
			i += 2 + n
		}
		if n := countOf(st.parts, "FFDA"); n != 1 {
			t.Errorf("%s: %d scans", v.Name, n)
		}
	case "image/png":
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("%s: no PNG signature", v.Name)
		}
		for i := 8; ; {
			if i+12 > len(b) {
				t.Fatalf("%s: truncated chunk at %d", v.Name, i)
			}
			n := int(be.Uint32(b[i:]))
			if n > len(b)-i-12 {
				t.Fatalf("%s: chunk length %d past the end", v.Name, n)
			}
			typ := string(b[i+4 : i+8])
			if crc32.ChecksumIEEE(b[i+4:i+8+n]) != be.Uint32(b[i+8+n:]) {
				t.Errorf("%s: bad CRC in %s", v.Name, typ)
			}
			switch typ {
			case "IHDR", "PLTE", "tRNS", "IDAT", "IEND":
			case "iCCP":
				if len(st.parts) != 1 {
					t.Errorf("%s: iCCP not right after IHDR", v.Name)
				}
				st.iccSegments++
			default:
				t.Errorf("%s: chunk %s", v.Name, typ)
			}
			st.parts = append(st.parts, typ)
			i += 12 + n
			if typ == "IEND" {
				if i != len(b) {
					t.Fatalf("%s: %d bytes after IEND", v.Name, len(b)-i)
				}
				break
			}
		}
		if st.parts[0] != "IHDR" {
			t.Errorf("%s: first chunk %s", v.Name, st.parts[0])
		}
	default:
		t.Fatalf("%s: content type %s", v.Name, v.ContentType)
	}
	return st
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// Every metadata block an upload may carry (EXIF with GPS and a MakerNote,
// XMP, IPTC, comments, PNG text chunks, WebP EXIF and XMP chunks) is left
// behind: each variant holds only what its encoder writes, plus the ICC
// profile, and none of the planted values.
func TestEveryMetadataBlockRemoved(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	p3 := porttest.ImagesDisplayP3Profile()
	opaque := photo(480, 320, 3)
	alpha := image.NewNRGBA(image.Rect(0, 0, 400, 300)) // half transparent: PNG variants
	for y := range 300 {
		for x := 200; x < 400; x++ {
			alpha.SetNRGBA(x, y, color.NRGBA{200, 100, 50, 255})
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 300, 200), color.Palette{color.Transparent, color.RGBA{20, 200, 20, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i / 300 % 2)
	}
	for _, in := range []struct {
		name, ct, variants string
		data               []byte
		profile            bool
	}{
		{"jpeg", "image/jpeg", "image/jpeg", jpegWithEverything(encodeJPEG(t, opaque, 90), p3), true},
		{"jpeg without a profile", "image/jpeg", "image/jpeg", jpegWithEverything(encodeJPEG(t, opaque, 90), nil), false},
		{"opaque png", "image/png", "image/jpeg", pngWithEverything(encodePNG(t, opaque), p3), true},
		{"png with transparency", "image/png", "image/png", pngWithEverything(encodePNG(t, alpha), p3), true},
		{"paletted png", "image/png", "image/png", pngWithEverything(encodePNG(t, pal), p3), true},
		{"webp", "image/webp", "image/png", webpWithEverything(alpha, p3), true},
	} {
		t.Run(in.name, func(t *testing.T) {
			if !bytes.Contains(in.data, []byte(porttest.ImagesGPSMarker)) || !bytes.Contains(in.data, []byte(secretMakerNote)) {
				t.Fatal("fixture lacks the GPS or MakerNote marker")
			}
			for _, v := range makeVariants(t, p, in.data, in.ct) {
				decodeVariant(t, v)
				if v.ContentType != in.variants {
					t.Errorf("%s is %s, want %s", v.Name, v.ContentType, in.variants)
				}
				st := walkStructure(t, v)
				if want := map[bool]int{true: 1, false: 0}[in.profile]; st.iccSegments != want {
					t.Errorf("%s: %d ICC profile blocks, want %d (%v)", v.Name, st.iccSegments, want, st.parts)
				}
				for _, s := range append(slices.Clone(secrets), "Exif\x00", "http://ns.adobe.com", "Photoshop", "8BIM", "xpacket") {
					if bytes.Contains(v.Data, []byte(s)) {
						t.Errorf("%s (%s) contains %q", v.Name, v.ContentType, s)
					}
				}
			}
		})
	}
}
