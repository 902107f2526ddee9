package imaging
import "testing"
func BenchmarkHalve(b *testing.B) {
	p := newPlane(4000, 3000, 1)
	for i := range p.pix { p.pix[i] = uint8(i * 7) }
	b.SetBytes(int64(len(p.pix)))
	for b.Loop() { halve(p) }
}

func TestHalveMatchesScalar(t *testing.T) {
	for _, ch := range []int{1, 4} {
		for _, w := range []int{1, 2, 3, 7, 8, 9, 16, 17, 33} {
			for _, h := range []int{1, 2, 5} {
				p := newPlane(w, h, ch)
				for i := range p.pix {
					p.pix[i] = uint8(i*151 + i*i*7)
				}
				got := halve(p)
				for y := range got.h {
					for x := range got.w {
						for c := range ch {
							at := func(x, y int) int { return int(p.pix[min(y, h-1)*p.stride+min(x, w-1)*ch+c]) }
							var want int
							switch {
							case 2*x+1 < w:
								want = (at(2*x, 2*y) + at(2*x+1, 2*y) + at(2*x, 2*y+1) + at(2*x+1, 2*y+1) + 1 + x&1) >> 2
							default: // odd last column
								want = (at(2*x, 2*y) + at(2*x, 2*y+1) + 1) >> 1
							}
							if g := int(got.pix[y*got.stride+x*ch+c]); g != want {
								t.Fatalf("ch %d %dx%d: (%d,%d,%d) = %d, want %d", ch, w, h, x, y, c, g, want)
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkResampleMediumY(b *testing.B) {
	p := newPlane(2000, 1500, 1)
	for i := range p.pix { p.pix[i] = uint8(i * 7) }
	for b.Loop() { resample(p, 0, 0, 2000, 1500, 1080, 810) }
}
