package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

func TestPlotSVG(t *testing.T) {
	p := Plot{Title: "Throughput <1 KiB>", XLabel: "connections", YLabel: "requests/s", LogX: true,
		Series: []Series{
			{Name: "pilb", X: []float64{1, 16, 256}, Y: []float64{10000, 90000, 120000}},
			{Name: "nginx & co", X: []float64{1, 16, 256}, Y: []float64{9000, 70000, math.NaN()}, Dashed: true},
		}}
	svg := p.SVG()
	// Well-formed XML, with the title escaped.
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	s := string(svg)
	if got := strings.Count(s, "<polyline"); got != 2 {
		t.Errorf("%d polylines, want 2", got)
	}
	// 5 points, the NaN skipped.
	if got := strings.Count(s, "<circle"); got != 5 {
		t.Errorf("%d points, want 5", got)
	}
	for _, want := range []string{"Throughput &lt;1 KiB&gt;", "nginx &amp; co", ">256<", ">125k<", "stroke-dasharray"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// The largest Y on a 0..125k axis sits near the top of the plot area.
	if !strings.Contains(s, `cy="`) {
		t.Fatal("no points")
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ max, top, step float64 }{
		{120000, 125000, 25000}, {1, 1, 0.2}, {0, 1, 0.2}, {7.3, 8, 2}, {0.42, 0.5, 0.1},
	} {
		top, step := niceScale(tc.max)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.max, top, step, tc.top, tc.step)
		}
	}
}

func TestEmptyPlot(t *testing.T) {
	if s := string(Plot{Title: "x"}.SVG()); !strings.Contains(s, "no data") {
		t.Errorf("empty plot: %s", s)
	}
}

// X positions: a log axis spaces 1, 4, 16 evenly; a linear one spaces
// 0, 1, 4 by value. Width 760 leaves a plot area of 538 px from x = 72.
func TestPlotXScale(t *testing.T) {
	cx := func(p Plot) []string {
		var out []string
		for _, part := range strings.Split(string(p.SVG()), `<circle cx="`)[1:] {
			out = append(out, part[:strings.IndexByte(part, '"')])
		}
		return out
	}
	logPlot := Plot{LogX: true, Series: []Series{{Name: "a", X: []float64{1, 4, 16}, Y: []float64{1, 2, 3}}}}
	if got := strings.Join(cx(logPlot), " "); got != "72.0 341.0 610.0" {
		t.Errorf("log axis cx = %s, want 72.0 341.0 610.0", got)
	}
	linPlot := Plot{Series: []Series{{Name: "a", X: []float64{0, 1, 4}, Y: []float64{1, 2, 3}}}}
	if got := strings.Join(cx(linPlot), " "); got != "72.0 206.5 610.0" {
		t.Errorf("linear axis cx = %s, want 72.0 206.5 610.0", got)
	}
}
