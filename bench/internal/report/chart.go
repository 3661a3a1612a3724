package report

import (
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteChart draws median source MB/s as grouped bars, one panel per
// storage target, one group per workload x destination count and one bar
// per tool, with min-max error bars, and writes it as PNG.
func WriteChart(w io.Writer, rows []Row) error {
	var targets, tools []string
	type group struct {
		workload string
		dests    int
	}
	var groups []group
	byKey := map[Key]Row{}
	for _, r := range rows {
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
		if !slices.Contains(tools, r.Tool) {
			tools = append(tools, r.Tool)
		}
		g := group{r.Workload, r.Dests}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		byKey[r.Key] = r
	}
	if len(rows) == 0 {
		return fmt.Errorf("chart: no rows")
	}
	labels := make([]string, len(groups))
	for i, g := range groups {
		labels[i] = fmt.Sprintf("%s x%d", g.workload, g.dests)
	}
	barW := vg.Points(min(14, 300/float64(len(tools)*max(1, len(groups)))+2))
	plots := make([][]*plot.Plot, len(targets))
	for ti, t := range targets {
		p := plot.New()
		p.Title.Text = "storage target: " + t
		p.Y.Label.Text = "source MB/s (median, min-max)"
		p.Y.Min = 0
		p.Legend.Top = true
		var top float64
		for i, tool := range tools {
			vals := make(plotter.Values, len(groups))
			errs := make(plotter.YErrors, len(groups))
			for gi, g := range groups {
				r, ok := byKey[Key{Target: t, Workload: g.workload, Dests: g.dests, Tool: tool}]
				if !ok || math.IsNaN(r.MBpsMedian) {
					continue
				}
				vals[gi] = r.MBpsMedian
				top = max(top, r.MBpsMax)
				errs[gi].Low = r.MBpsMedian - r.MBpsMin
				errs[gi].High = r.MBpsMax - r.MBpsMedian
			}
			bars, err := plotter.NewBarChart(vals, barW)
			if err != nil {
				return fmt.Errorf("chart: %w", err)
			}
			bars.Color = plotutil.Color(i)
			bars.LineStyle.Width = 0
			bars.Offset = barW * vg.Length(float64(i)-float64(len(tools)-1)/2)
			p.Add(bars)
			eb := &plotter.YErrorBars{XYs: make(plotter.XYs, len(groups)), YErrors: errs, LineStyle: plotter.DefaultLineStyle, CapWidth: barW / 2}
			for gi := range groups {
				eb.XYs[gi] = plotter.XY{X: float64(gi), Y: vals[gi]}
			}
			// Error bars are placed at the group centre and shifted like
			// the bars by drawing them through an offsetting plotter.
			p.Add(offsetPlotter{eb, bars.Offset})
			if ti == 0 {
				p.Legend.Add(tool, bars)
			}
		}
		p.NominalX(labels...)
		// Head room above the tallest error bar for the legend.
		p.Y.Max = top * (1.15 + 0.06*float64(len(tools)))
		p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
		plots[ti] = []*plot.Plot{p}
	}
	width := vg.Points(max(480, 90*float64(len(groups))+40*float64(len(tools))))
	height := vg.Points(300 * float64(len(targets)))
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(targets), Cols: 1, PadY: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// offsetPlotter draws a plotter shifted horizontally by off.
type offsetPlotter struct {
	plot.Plotter
	off vg.Length
}

func (o offsetPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	c.Rectangle.Min.X += o.off
	c.Rectangle.Max.X += o.off
	o.Plotter.Plot(c, p)
}

// DataRange passes through the wrapped plotter's range when it has one.
func (o offsetPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	if dr, ok := o.Plotter.(plot.DataRanger); ok {
		return dr.DataRange()
	}
	return math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
}
