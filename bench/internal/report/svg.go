// Package report turns a results.Run into report.md and SVG line plots.
// The plots are drawn by a small stdlib-only SVG generator (this file).
package report

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
)

// Series is one line of a Plot. X and Y have the same length.
type Series struct {
	Name string
	X, Y []float64
	// Dashed draws the line dashed (for secondary series).
	Dashed bool
}

// Plot is a line plot with a legend. The Y axis starts at 0.
type Plot struct {
	Title, XLabel, YLabel string
	// LogX puts X on a log2 scale with a tick at each X value (a
	// concurrency ladder 1, 4, 16 … 1024).
	LogX   bool
	Series []Series
	// Width and Height in pixels; 0 means 760 × 420.
	Width, Height int
}

// palette is colour-blind-safe (Okabe–Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"}

const (
	marginLeft   = 72
	marginRight  = 150 // room for the legend
	marginTop    = 36
	marginBottom = 52
)

// SVG renders the plot as a standalone SVG document.
func (p Plot) SVG() []byte {
	w, h := p.Width, p.Height
	if w == 0 {
		w, h = 760, 420
	}
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)

	var xs []float64
	ymax := 0.0
	for _, s := range p.Series {
		for i, x := range s.X {
			if p.LogX && x <= 0 {
				continue
			}
			xs = append(xs, x)
			if !math.IsNaN(s.Y[i]) && !math.IsInf(s.Y[i], 0) {
				ymax = math.Max(ymax, s.Y[i])
			}
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, html.EscapeString(p.Title))
	if len(xs) == 0 {
		b.WriteString(`<text x="50%" y="50%" text-anchor="middle">no data</text></svg>` + "\n")
		return b.Bytes()
	}

	// scale is the X axis's transform: log2 on a log axis.
	scale := func(x float64) float64 { return x }
	if p.LogX {
		scale = math.Log2
	}
	lo, hi := scale(xs[0]), scale(xs[len(xs)-1])
	tx := func(x float64) float64 {
		if hi == lo {
			return marginLeft + pw/2
		}
		return marginLeft + (scale(x)-lo)/(hi-lo)*pw
	}
	ytop, ystep := niceScale(ymax)
	ty := func(y float64) float64 { return marginTop + ph - y/ytop*ph }

	// Grid and Y ticks.
	for y := 0.0; y <= ytop*1.0001; y += ystep {
		py := ty(y)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", marginLeft, py, marginLeft+pw, py)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-6, py+4, human(y))
	}
	// X ticks: every data X on a log axis, five even ones otherwise.
	ticks := xs
	if !p.LogX {
		ticks = nil
		for i := range 5 {
			ticks = append(ticks, lo+(hi-lo)*float64(i)/4) // linear: lo, hi are data values
		}
	}
	for _, x := range ticks {
		px := tx(x)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", px, marginTop, px, marginTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px, marginTop+ph+16, human(x))
	}
	// Axes and labels.
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", marginLeft, marginTop, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", marginLeft+pw/2, h-12, html.EscapeString(p.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", marginTop+ph/2, html.EscapeString(p.YLabel))

	for i, s := range p.Series {
		color := palette[i%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts bytes.Buffer
		for j, x := range s.X {
			y := s.Y[j]
			if (p.LogX && x <= 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", tx(x), ty(y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, bytes.TrimSpace(pts.Bytes()))
		for j, x := range s.X {
			y := s.Y[j]
			if (p.LogX && x <= 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s → %s</title></circle>`+"\n",
				tx(x), ty(y), color, html.EscapeString(s.Name), human(x), human(y))
		}
		ly := marginTop + 8 + 20*i
		lx := marginLeft + int(pw) + 14
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+22, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+28, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceScale returns an axis top of at least max and a tick step, both
// 1, 2 or 5 times a power of ten, for about five ticks.
func niceScale(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.2
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(max/step) * step, step
}

// human formats a number for a tick label: 950, 1.5k, 32k, 1.2M, 0.25.
func human(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "k"
	case a >= 1 || a == 0:
		return trim(v)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func trim(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
