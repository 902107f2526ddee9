package imaging

import (
	"math"
	"runtime"
	"sync"
)

// Fixed-point filter weights: 1.0 is 1<<weightBits. Samples are 8-bit, so a
// sum of at most 64 taps fits an int32 with room to spare.
const (
	weightBits = 14
	weightOne  = 1 << weightBits
	weightHalf = 1 << (weightBits - 1)
)

// catmullRom is the Catmull-Rom cubic (B=0, C=0.5): sharp, interpolating (1 at
// 0, 0 at the other integers), support [-2, 2]; the same kernel as
// golang.org/x/image/draw.CatmullRom.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// weights maps each output sample to n consecutive input samples.
type weights struct {
	n     int
	start []int   // first input sample of each output sample
	w     []int32 // n weights per output sample, summing to weightOne
}

// taps8 is the filter length the unrolled loops handle: a Catmull-Rom
// reduction by less than 2x reads at most 8 input samples per output sample,
// and the pyramid leaves every reduction below 2x.
const taps8 = 8

// makeWeights computes the filter that resamples the window [x0, x0+sw) of a
// line of size samples into dw samples. Taps that fall outside the line are
// folded onto the edge sample (edge extension). Filters of up to 8 taps are
// padded with zero weights to exactly 8 when the line is long enough, for the
// unrolled loops.
func makeWeights(size int, x0, sw float64, dw int) weights {
	scale := sw / float64(dw)
	// An unscaled window on the pixel grid is a copy: one tap of weight 1.
	if scale == 1 && x0 == math.Trunc(x0) {
		ws := weights{n: 1, start: make([]int, dw), w: make([]int32, dw)}
		for i := range dw {
			ws.start[i] = min(max(int(x0)+i, 0), size-1)
			ws.w[i] = weightOne
		}
		return ws
	}
	fscale := max(scale, 1) // widen the kernel when reducing, to filter out what cannot be shown
	support := 2 * fscale
	// The kernel is zero at +-support, so the open interval of length
	// 2*support around a centre holds at most ceil(2*support) samples.
	n := int(math.Ceil(2 * support))
	if n <= taps8 && size >= taps8 {
		n = taps8
	}
	n = min(n, size)
	ws := weights{n: n, start: make([]int, dw), w: make([]int32, dw*n)}
	f := make([]float64, n)
	for i := range dw {
		c := x0 + (float64(i)+0.5)*scale - 0.5 // centre of output sample i, in input sample coordinates
		lo := int(math.Floor(c-support)) + 1
		hi := int(math.Ceil(c+support)) - 1
		start := min(max(lo, 0), size-n)
		clear(f)
		sum := 0.0
		for j := lo; j <= hi; j++ {
			k := catmullRom((float64(j) - c) / fscale)
			f[min(max(j, 0), size-1)-start] += k
			sum += k
		}
		ws.start[i] = start
		out := ws.w[i*n : (i+1)*n]
		var total int32
		big := 0
		for t, v := range f {
			out[t] = int32(math.Round(v / sum * weightOne))
			total += out[t]
			if out[t] > out[big] {
				big = t
			}
		}
		out[big] += weightOne - total // make the weights sum to exactly 1
	}
	return ws
}

// span returns the range of input samples the weights read.
func (ws weights) span() (lo, hi int) {
	lo, hi = ws.start[0], ws.start[0]+ws.n
	for _, s := range ws.start {
		lo = min(lo, s)
		hi = max(hi, s+ws.n)
	}
	return lo, hi
}

// resample returns the window (x0, y0, sw, sh) of src, in src sample
// coordinates, resampled to dw x dh with the Catmull-Rom filter: for each
// output row, a vertical pass over the columns the window needs, then a
// horizontal pass. Sums are rounded to 8 bits between the passes. A large
// output is made in bands of rows on all cores (an RGBA image is a single
// plane, and the luma plane of a photo is two thirds of its work).
func resample(src plane, x0, y0, sw, sh float64, dw, dh int) plane {
	xw := makeWeights(src.w, x0, sw, dw)
	yw := makeWeights(src.h, y0, sh, dh)
	dst := newPlane(dw, dh, src.ch)
	xlo, xhi := xw.span()
	// Multiply-adds of both passes; below about a millisecond of work a
	// goroutine is not worth it.
	work := dh * src.ch * ((xhi-xlo)*yw.n + dw*xw.n)
	bands := min(runtime.GOMAXPROCS(0), max(work>>21, 1), dh)
	if bands == 1 {
		resampleRows(dst, src, xw, yw, 0, dh)
		return dst
	}
	var wg sync.WaitGroup
	for b := range bands {
		wg.Go(func() { resampleRows(dst, src, xw, yw, dh*b/bands, dh*(b+1)/bands) })
	}
	wg.Wait()
	return dst
}

// resampleRows makes rows [y0, y1) of dst from src with the weights xw and
// yw, through a single intermediate row.
func resampleRows(dst, src plane, xw, yw weights, y0, y1 int) {
	xlo, xhi := xw.span()
	ch := src.ch
	tmp := make([]byte, (xhi-xlo)*ch)
	rows := make([][]byte, yw.n)
	var acc []int32
	if yw.n != taps8 {
		acc = make([]int32, len(tmp))
	}
	for y := y0; y < y1; y++ {
		for t := range rows {
			rows[t] = src.row(yw.start[y] + t)[xlo*ch : xhi*ch]
		}
		vertical(tmp, rows, yw.w[y*yw.n:(y+1)*yw.n], acc)
		out := dst.row(y)
		switch {
		case ch == 1 && xw.n == taps8:
			horizontal8(out, tmp, xw, xlo)
		case ch == 1:
			horizontal1(out, tmp, xw, xlo)
		case xw.n == taps8:
			horizontal4x8(out, tmp, xw, xlo)
		default:
			horizontal4(out, tmp, xw, xlo)
		}
	}
}

// vertical writes to out the weighted sum of rows (one weight per row); acc
// is scratch space of at least len(out).
func vertical(out []byte, rows [][]byte, ws []int32, acc []int32) {
	if len(rows) == taps8 {
		r0, r1, r2, r3 := rows[0][:len(out)], rows[1][:len(out)], rows[2][:len(out)], rows[3][:len(out)]
		r4, r5, r6, r7 := rows[4][:len(out)], rows[5][:len(out)], rows[6][:len(out)], rows[7][:len(out)]
		w := (*[taps8]int32)(ws)
		for x := range out {
			out[x] = clamp8(int32(r0[x])*w[0] + int32(r1[x])*w[1] + int32(r2[x])*w[2] + int32(r3[x])*w[3] +
				int32(r4[x])*w[4] + int32(r5[x])*w[5] + int32(r6[x])*w[6] + int32(r7[x])*w[7])
		}
		return
	}
	acc = acc[:len(out)]
	clear(acc)
	t := 0
	for ; t+4 <= len(rows); t += 4 { // four rows per pass over acc
		r0, r1, r2, r3 := rows[t][:len(acc)], rows[t+1][:len(acc)], rows[t+2][:len(acc)], rows[t+3][:len(acc)]
		w0, w1, w2, w3 := ws[t], ws[t+1], ws[t+2], ws[t+3]
		for x := range acc {
			acc[x] += int32(r0[x])*w0 + int32(r1[x])*w1 + int32(r2[x])*w2 + int32(r3[x])*w3
		}
	}
	for ; t < len(rows); t++ {
		r, wt := rows[t][:len(acc)], ws[t]
		for x := range acc {
			acc[x] += int32(r[x]) * wt
		}
	}
	for x, a := range acc {
		out[x] = clamp8(a)
	}
}

// horizontal8 filters one-channel row in into out with 8-tap weights.
func horizontal8(out, in []byte, xw weights, xlo int) {
	for x := range out {
		s := xw.start[x] - xlo
		t := (*[taps8]byte)(in[s : s+taps8])
		w := (*[taps8]int32)(xw.w[x*taps8 : x*taps8+taps8])
		out[x] = clamp8(int32(t[0])*w[0] + int32(t[1])*w[1] + int32(t[2])*w[2] + int32(t[3])*w[3] +
			int32(t[4])*w[4] + int32(t[5])*w[5] + int32(t[6])*w[6] + int32(t[7])*w[7])
	}
}

// horizontal1 filters one-channel row in into out, any filter length.
func horizontal1(out, in []byte, xw weights, xlo int) {
	n := xw.n
	for x := range out {
		s := xw.start[x] - xlo
		taps := in[s : s+n]
		ws := xw.w[x*n : x*n+n]
		ws = ws[:len(taps)]
		var a int32
		for t, v := range taps {
			a += int32(v) * ws[t]
		}
		out[x] = clamp8(a)
	}
}

// horizontal4x8 filters a premultiplied RGBA row in into out with 8-tap
// weights: horizontal4 unrolled.
func horizontal4x8(out, in []byte, xw weights, xlo int) {
	for x := range len(out) / 4 {
		s := (xw.start[x] - xlo) * 4
		t := (*[4 * taps8]byte)(in[s : s+4*taps8])
		w := (*[taps8]int32)(xw.w[x*taps8 : x*taps8+taps8])
		o := (*[4]byte)(out[4*x : 4*x+4])
		var px [4]int32
		for c := range 4 {
			px[c] = int32(t[c])*w[0] + int32(t[4+c])*w[1] + int32(t[8+c])*w[2] + int32(t[12+c])*w[3] +
				int32(t[16+c])*w[4] + int32(t[20+c])*w[5] + int32(t[24+c])*w[6] + int32(t[28+c])*w[7]
		}
		o[3] = clamp8(px[3])
		o[0] = min(clamp8(px[0]), o[3]) // see horizontal4
		o[1] = min(clamp8(px[1]), o[3])
		o[2] = min(clamp8(px[2]), o[3])
	}
}

// horizontal4 filters a premultiplied RGBA row in into out.
func horizontal4(out, in []byte, xw weights, xlo int) {
	n := xw.n
	for x := range len(out) / 4 {
		s := (xw.start[x] - xlo) * 4
		taps := in[s : s+4*n]
		ws := xw.w[x*n : x*n+n]
		var r, g, b, a int32
		for t, wt := range ws {
			px := taps[4*t : 4*t+4 : 4*t+4]
			r += int32(px[0]) * wt
			g += int32(px[1]) * wt
			b += int32(px[2]) * wt
			a += int32(px[3]) * wt
		}
		o := out[4*x : 4*x+4 : 4*x+4]
		o[3] = clamp8(a)
		// Premultiplied colour never exceeds alpha; the filter's negative
		// lobes could make it, which would show as bright fringes.
		o[0] = min(clamp8(r), o[3])
		o[1] = min(clamp8(g), o[3])
		o[2] = min(clamp8(b), o[3])
	}
}

func clamp8(a int32) uint8 {
	a = (a + weightHalf) >> weightBits
	if uint32(a) > 255 {
		if a < 0 {
			return 0
		}
		return 255
	}
	return uint8(a)
}
