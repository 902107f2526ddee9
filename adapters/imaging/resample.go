package imaging

import "math"

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

// makeWeights computes the filter that resamples the window [x0, x0+sw) of a
// line of size samples into dw samples. Taps that fall outside the line are
// folded onto the edge sample (edge extension).
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
	n := min(int(math.Ceil(2*support))+1, size)
	ws := weights{n: n, start: make([]int, dw), w: make([]int32, dw*n)}
	f := make([]float64, n)
	for i := range dw {
		c := x0 + (float64(i)+0.5)*scale - 0.5 // centre of output sample i, in input sample coordinates
		lo := int(math.Ceil(c - support))
		hi := int(math.Floor(c + support))
		start := min(max(lo, 0), size-n)
		clear(f)
		sum := 0.0
		for j := lo; j <= hi; j++ {
			k := catmullRom((float64(j) - c) / fscale)
			if k == 0 {
				continue
			}
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
// coordinates, resampled to dw x dh with the Catmull-Rom filter: a vertical
// pass over the columns the window needs, then a horizontal pass.
func resample(src plane, x0, y0, sw, sh float64, dw, dh int) plane {
	xw := makeWeights(src.w, x0, sw, dw)
	yw := makeWeights(src.h, y0, sh, dh)
	xlo, xhi := xw.span()
	ch := src.ch

	// Vertical pass: dh rows of the columns [xlo, xhi).
	tmp := newPlane(xhi-xlo, dh, ch)
	acc := make([]int32, tmp.w*ch)
	for y := range dh {
		clear(acc)
		ws := yw.w[y*yw.n : (y+1)*yw.n]
		for t, wt := range ws {
			if wt == 0 {
				continue
			}
			r := src.row(yw.start[y] + t)[xlo*ch : xhi*ch]
			a := acc[:len(r)]
			for x, v := range r {
				a[x] += int32(v) * wt
			}
		}
		store(tmp.row(y), acc)
	}

	// Horizontal pass.
	dst := newPlane(dw, dh, ch)
	n := xw.n
	for y := range dh {
		in, out := tmp.row(y), dst.row(y)
		if ch == 1 {
			for x := range dw {
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
			continue
		}
		for x := range dw {
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
	return dst
}

// store writes fixed-point sums as rounded, clamped 8-bit samples.
func store(out []byte, acc []int32) {
	acc = acc[:len(out)]
	for x, a := range acc {
		out[x] = clamp8(a)
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
