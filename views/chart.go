package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Charts is a set of time-series charts over the same window, drawn as
// inline SVG.
type Charts struct {
	// Src is the fragment URL the page script polls to redraw them.
	Src string
	// Window describes the span ("last 15 minutes, one point per 10s").
	Window string
	Charts []Chart
	Err    string
}

// Chart is one chart: lines over the same points in time.
type Chart struct {
	// ID names the chart for tests and styles ("connections").
	ID    string
	Title string
	// Unit follows values in the legend ("/s", "").
	Unit  string
	Lines []Line
}

// Line is one series; a NaN value is a point without a sample.
type Line struct {
	Name   string
	Values []float64
	// Total draws the line as the sum of the others.
	Total bool
}

// empty reports whether no chart has a single sample yet.
func (c Charts) empty() bool {
	for _, ch := range c.Charts {
		for _, l := range ch.Lines {
			for _, v := range l.Values {
				if !math.IsNaN(v) {
					return false
				}
			}
		}
	}
	return true
}

const (
	chartW = 600
	chartH = 120
)

// max is the chart's top: the largest value, at least 1.
func (c Chart) max() float64 {
	m := 1.0
	for _, l := range c.Lines {
		for _, v := range l.Values {
			if !math.IsNaN(v) && v > m {
				m = v
			}
		}
	}
	return m
}

// segments are polyline point lists, one per run of values with samples.
func (c Chart) segments(l Line) []string {
	top := c.max()
	n := len(l.Values)
	var out []string
	var b strings.Builder
	for i, v := range l.Values {
		if math.IsNaN(v) {
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			continue
		}
		x := 0.0
		if n > 1 {
			x = float64(i) * chartW / float64(n-1)
		}
		y := chartH - v/top*chartH
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// point is a place on a chart, in SVG units.
type point struct{ X, Y string }

// lastPoint is where the line's newest value is drawn (none or one), marked
// so that a line of a single sample still shows.
func (c Chart) lastPoint(l Line) []point {
	top := c.max()
	n := len(l.Values)
	for i := n - 1; i >= 0; i-- {
		if v := l.Values[i]; !math.IsNaN(v) {
			x := 0.0
			if n > 1 {
				x = float64(i) * chartW / float64(n-1)
			}
			return []point{{fmt.Sprintf("%.1f", x), fmt.Sprintf("%.1f", chartH-v/top*chartH)}}
		}
	}
	return nil
}

// last is the line's newest value with a sample, formatted.
func (l Line) last() string {
	for i := len(l.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(l.Values[i]) {
			return formatValue(l.Values[i])
		}
	}
	return "–"
}

func formatValue(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// lineColors are the node lines' colors; the total is drawn in black.
var lineColors = []string{"#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626"}

func lineColor(i int, l Line) string {
	if l.Total {
		return "#111827"
	}
	return lineColors[i%len(lineColors)]
}

func lineWidth(l Line) string {
	if l.Total {
		return "2.5"
	}
	return "1.5"
}
