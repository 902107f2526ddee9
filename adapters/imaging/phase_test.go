package imaging
import ("testing";"time";"bytes";"image/jpeg")
func TestPhases(t *testing.T){
	data := jpeg12MP(t)
	for range 3 {
	t0 := time.Now()
	img, _ := jpeg.Decode(bytes.NewReader(data))
	t1 := time.Now()
	s := newSource(img, 4000, 3000)
	ts := targets(s.w, s.h, 1)
	for _, p := range s.planes { p.level(1) }
	t2 := time.Now()
	for _, p := range s.planes { p.level(4) }
	t3 := time.Now()
	s2 := newSource(img, 4000, 3000)
	outs := s2.makeVariants(1)
	t4 := time.Now()
	var enc []time.Duration
	for _, o := range outs { a := time.Now(); o.encode(82); enc = append(enc, time.Since(a)) }
	t.Logf("decode %v level1 %v levels2-4 %v makeVariants(total incl pyramid) %v encode %v targets %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), enc, len(ts))
	}
}
