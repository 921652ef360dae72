//go:build ignore

// mkicon draws Carnet's application icon, assets/icon.png (512×512): a health
// booklet ("carnet de santé") with a spiral binding and a medical cross, on a
// blue rounded square. Flat colours, anti-aliased with signed distance fields.
// Standard library only.
//
// Regenerate from the repository root:
//
//	go run assets/mkicon.go            # writes assets/icon.png
//	go run assets/mkicon.go -o x.png   # writes elsewhere
package main

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const size = 512

// rgba is a straight (non-premultiplied) colour with components in 0..1.
type rgba struct{ r, g, b, a float64 }

func hex(v uint32) rgba {
	return rgba{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}
}

func (c rgba) alpha(a float64) rgba { c.a *= a; return c }

// over composites src with coverage cov over dst (premultiplied accumulation).
func over(dst rgba, src rgba, cov float64) rgba {
	a := src.a * cov
	return rgba{
		src.r*a + dst.r*(1-a),
		src.g*a + dst.g*(1-a),
		src.b*a + dst.b*(1-a),
		a + dst.a*(1-a),
	}
}

// roundRect is the signed distance from (x, y) to a rectangle with corners
// (x0, y0)-(x1, y1) and corner radius r: negative inside.
func roundRect(x, y, x0, y0, x1, y1, r float64) float64 {
	cx, cy := (x0+x1)/2, (y0+y1)/2
	hw, hh := (x1-x0)/2-r, (y1-y0)/2-r
	dx := math.Abs(x-cx) - hw
	dy := math.Abs(y-cy) - hh
	ox, oy := math.Max(dx, 0), math.Max(dy, 0)
	return math.Hypot(ox, oy) + math.Min(math.Max(dx, dy), 0) - r
}

func circle(x, y, cx, cy, r float64) float64 { return math.Hypot(x-cx, y-cy) - r }

// cov turns a signed distance into pixel coverage (a one-pixel ramp).
func cov(d float64) float64 { return math.Min(math.Max(0.5-d, 0), 1) }

// soft turns a signed distance into a blurred coverage over width w.
func soft(d, w float64) float64 { return math.Min(math.Max(0.5-d/w, 0), 1) }

// Palette.
var (
	bgTop    = hex(0x2F80D8)
	bgBottom = hex(0x1A4E96)
	cover    = hex(0xFBF8F2)
	coverRim = hex(0xDCE3EC)
	spine    = hex(0xE8EDF4)
	ring     = hex(0x5B6B80)
	hole     = hex(0x1C3F70)
	cross    = hex(0x16A58A)
	crossRim = hex(0x0E7E69)
	band     = hex(0x0E7E69)
	textLine = hex(0xC5CED9)
	shadow   = rgba{0.02, 0.08, 0.2, 0.35}
)

// Geometry of the booklet (pixels, origin top left).
const (
	bx0, by0, bx1, by1 = 132.0, 88.0, 392.0, 430.0 // cover
	br                 = 26.0                      // cover corner radius
	spineX             = 178.0                     // right edge of the spine strip
	crossCX, crossCY   = 262.0, 222.0              // cross centre
	crossArm           = 62.0                      // half length of an arm
	crossHalf          = 22.0                      // half width of an arm
)

func pixel(x, y float64) rgba {
	var c rgba // transparent

	// Background: rounded square, vertical gradient.
	t := y / size
	bg := rgba{
		bgTop.r + (bgBottom.r-bgTop.r)*t,
		bgTop.g + (bgBottom.g-bgTop.g)*t,
		bgTop.b + (bgBottom.b-bgTop.b)*t,
		1,
	}
	c = over(c, bg, cov(roundRect(x, y, 16, 16, 496, 496, 104)))

	// Soft shadow under the booklet.
	c = over(c, shadow, soft(roundRect(x, y, bx0+10, by0+18, bx1+10, by1+18, br), 14))

	// Cover with a thin rim.
	c = over(c, coverRim, cov(roundRect(x, y, bx0, by0, bx1, by1, br)))
	c = over(c, cover, cov(roundRect(x, y, bx0+4, by0+4, bx1-4, by1-4, br-4)))

	// Spine strip on the left of the cover.
	spineD := math.Max(roundRect(x, y, bx0+4, by0+4, bx1-4, by1-4, br-4), x-spineX)
	c = over(c, spine, cov(spineD))

	// Elastic band on the right.
	c = over(c, band, cov(roundRect(x, y, bx1-46, by0-2, bx1-30, by1+2, 3)))

	// Spiral binding: punched holes and rings across the left edge.
	for i := 0; i < 7; i++ {
		cy := by0 + 44 + float64(i)*42.5
		c = over(c, hole, cov(circle(x, y, bx0+30, cy, 7)))
		c = over(c, ring, cov(roundRect(x, y, bx0-18, cy-5.5, bx0+32, cy+5.5, 5.5)))
	}

	// Medical cross with a darker outline.
	arms := func(h, a float64) float64 {
		v := roundRect(x, y, crossCX-h, crossCY-a, crossCX+h, crossCY+a, 7)
		hz := roundRect(x, y, crossCX-a, crossCY-h, crossCX+a, crossCY+h, 7)
		return math.Min(v, hz)
	}
	c = over(c, crossRim, cov(arms(crossHalf+5, crossArm+5)))
	c = over(c, cross, cov(arms(crossHalf, crossArm)))

	// Three "written" lines under the cross.
	for i, w := range []float64{128, 104, 72} {
		ly := 338 + float64(i)*26
		lx0 := 198.0
		c = over(c, textLine, cov(roundRect(x, y, lx0, ly-5, lx0+w, ly+5, 5)))
	}
	return c
}

func main() {
	out := flag.String("o", "assets/icon.png", "output PNG")
	flag.Parse()

	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			c := pixel(float64(px)+0.5, float64(py)+0.5)
			if c.a <= 0 {
				continue
			}
			// c holds premultiplied channels; store straight alpha.
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(math.Min(c.r/c.a, 1) * 255)),
				G: uint8(math.Round(math.Min(c.g/c.a, 1) * 255)),
				B: uint8(math.Round(math.Min(c.b/c.a, 1) * 255)),
				A: uint8(math.Round(c.a * 255)),
			})
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
