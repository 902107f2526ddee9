package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// ICC colour profiles. The pipeline does not convert colours: it carries the
// source's profile into the variants, so that a viewer shows them in the
// source's colour space (a Display P3 photo read as sRGB looks dull). Only
// the profile is carried: every other metadata block is left behind.

// maxICCSize bounds the profiles carried: real ones are a few hundred bytes
// (matrix/TRC) to a few hundred kilobytes (lookup tables).
const maxICCSize = 1 << 20

// iccHeaderSize is the fixed ICC header, before the tag count.
const iccHeaderSize = 128

// iccProfile returns a copy of the ICC profile embedded in the image in data,
// nil when there is none or it is malformed (see wellFormedICC). JPEG keeps
// it in APP2 "ICC_PROFILE" segments, PNG in an iCCP chunk, WebP in the ICCP
// chunk of an extended (VP8X) file; GIF's application extension is not read.
func iccProfile(f *format, data []byte) []byte {
	var p []byte
	switch f.contentType {
	case "image/jpeg":
		p = jpegICC(data)
	case "image/png":
		p = pngICC(data)
	case "image/webp":
		p = webpICC(data)
	}
	if !wellFormedICC(p) {
		return nil
	}
	if f.contentType == "image/webp" {
		p = bytes.Clone(p) // the others are new slices already
	}
	return p
}

var iccJPEGHeader = []byte("ICC_PROFILE\x00")

// jpegICC reassembles the profile from the APP2 ICC_PROFILE segments before
// the image data: each holds a sequence number (from 1) and the chunk count,
// then its part of the profile. It returns nil when there are none, or when
// the chunks do not make one profile: counts that disagree, a sequence
// number out of range or seen twice, a missing chunk, or more than
// maxICCSize bytes.
func jpegICC(b []byte) []byte {
	var (
		chunks [][]byte
		seen   []bool
		total  int
		bad    bool
	)
	jpegWalk(b, func(m byte, seg []byte) bool {
		if m != 0xE2 || !bytes.HasPrefix(seg, iccJPEGHeader) {
			return true
		}
		seg = seg[len(iccJPEGHeader):]
		if len(seg) < 2 {
			bad = true
			return false
		}
		seq, n := int(seg[0]), int(seg[1])
		if chunks == nil && n > 0 {
			chunks, seen = make([][]byte, n), make([]bool, n)
		}
		total += len(seg) - 2
		if n != len(chunks) || seq < 1 || seq > n || seen[seq-1] || total > maxICCSize {
			bad = true
			return false
		}
		chunks[seq-1], seen[seq-1] = seg[2:], true
		return true
	})
	if bad || chunks == nil {
		return nil
	}
	out := make([]byte, 0, total)
	for i, c := range chunks {
		if !seen[i] {
			return nil
		}
		out = append(out, c...)
	}
	return out
}

// pngICC returns the decompressed profile of the iCCP chunk, which must come
// before the image data; nil when there is none, or when the chunk is
// malformed (bad CRC, no profile name, an unknown compression method,
// corrupt zlib data) or the profile is larger than maxICCSize.
func pngICC(b []byte) (p []byte) {
	pngWalk(b, func(typ string, data []byte, crcOK func() bool) bool {
		switch typ {
		case "IDAT", "PLTE":
			return false
		case "iCCP":
		default:
			return true
		}
		// Profile name (1 to 79 bytes), NUL, compression method 0 (zlib).
		name := bytes.IndexByte(data[:min(len(data), 80)], 0)
		if name < 1 || name+2 > len(data) || data[name+1] != 0 || !crcOK() {
			return false
		}
		p = inflateICC(data[name+2:])
		return false
	})
	return p
}

// inflateICC decompresses a zlib stream of at most maxICCSize bytes; nil when
// it is corrupt or larger.
func inflateICC(z []byte) []byte {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil
	}
	// Reading to the end checks the stream's Adler-32.
	p, err := io.ReadAll(io.LimitReader(zr, maxICCSize+1))
	if err != nil || len(p) > maxICCSize {
		return nil
	}
	return p
}

// webpICC returns the data of the ICCP chunk of an extended WebP file (whose
// first chunk is VP8X), nil when there is none.
func webpICC(b []byte) (p []byte) {
	first := true
	webpWalk(b, func(fourCC string, data []byte) bool {
		switch {
		case first && fourCC != "VP8X":
			return false
		case fourCC == "ICCP":
			p = data
			return false
		}
		first = false
		return true
	})
	return p
}

// wellFormedICC reports whether p is a profile worth carrying: at most
// maxICCSize bytes, its size field equal to its length, the 'acsp' signature,
// a class that may be embedded in an image (input, display, output or colour
// space; not a device link, abstract or named colour profile), and a tag
// table whose entries all lie inside it.
func wellFormedICC(p []byte) bool {
	if len(p) < iccHeaderSize+4 || len(p) > maxICCSize ||
		binary.BigEndian.Uint32(p) != uint32(len(p)) || string(p[36:40]) != "acsp" {
		return false
	}
	switch string(p[12:16]) {
	case "scnr", "mntr", "prtr", "spac":
	default:
		return false
	}
	n := binary.BigEndian.Uint32(p[iccHeaderSize:])
	if uint64(n) > uint64(len(p)-iccHeaderSize-4)/12 {
		return false
	}
	for k := range int(n) {
		e := p[iccHeaderSize+4+12*k:]
		off, size := uint64(binary.BigEndian.Uint32(e[4:])), uint64(binary.BigEndian.Uint32(e[8:]))
		if off+size > uint64(len(p)) {
			return false
		}
	}
	return true
}

// metadata is what the variants of one image carry, ready to insert into
// the encoders' output: JPEG APP2 segments, a PNG iCCP chunk (nil when none).
type metadata struct {
	jpeg, png []byte
}

// newMetadata prepares the profile p (nil for none) for variants of content
// type ct.
func newMetadata(p []byte, ct string) metadata {
	switch {
	case p == nil:
		return metadata{}
	case ct == "image/png":
		return metadata{png: iccPNGChunk(p)}
	default:
		return metadata{jpeg: iccJPEGSegments(p)}
	}
}

// maxICCChunk is the most profile bytes one APP2 segment holds: 65535 (the
// largest segment length) less the length field, the ICC_PROFILE\0 header and
// the sequence number and count.
const maxICCChunk = 65535 - 2 - 12 - 2

// iccJPEGSegments returns p as APP2 ICC_PROFILE segments (at most 255, so p
// may have up to about 16 MB).
func iccJPEGSegments(p []byte) []byte {
	n := (len(p) + maxICCChunk - 1) / maxICCChunk
	out := make([]byte, 0, len(p)+n*(4+len(iccJPEGHeader)+2))
	for i := range n {
		c := p[i*maxICCChunk : min((i+1)*maxICCChunk, len(p))]
		out = append(out, 0xFF, 0xE2)
		out = binary.BigEndian.AppendUint16(out, uint16(2+len(iccJPEGHeader)+2+len(c)))
		out = append(out, iccJPEGHeader...)
		out = append(out, byte(i+1), byte(n))
		out = append(out, c...)
	}
	return out
}

// iccPNGChunk returns p as a PNG iCCP chunk.
func iccPNGChunk(p []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(p) // a bytes.Buffer does not fail
	_ = zw.Close()
	data := append([]byte("ICC profile\x00\x00"), z.Bytes()...)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, "iCCP"...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// errShortEncoding reports an encoder output too short to hold the metadata
// where it belongs.
var errShortEncoding = errors.New("the encoder wrote too little to insert the metadata")

// spliceWriter writes to w what it is given, with extra inserted once at
// bytes have passed (the encoders cannot write metadata themselves).
type spliceWriter struct {
	w     io.Writer
	at    int
	extra []byte // nil once written
	n     int    // bytes passed so far
}

func (s *spliceWriter) Write(b []byte) (int, error) {
	if s.extra == nil || s.n+len(b) < s.at {
		s.n += len(b)
		return s.w.Write(b)
	}
	k := s.at - s.n
	if _, err := s.w.Write(b[:k]); err != nil {
		return 0, err
	}
	if _, err := s.w.Write(s.extra); err != nil {
		return k, err
	}
	s.extra = nil
	n, err := s.w.Write(b[k:])
	s.n += k + n
	return k + n, err
}
