package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The HTML report (-html FILE): one self-contained page, with the charts
// drawn by gonum.org/v1/plot as PNG images embedded as data: URIs (nothing
// is loaded from anywhere), then the whole text report in a <pre>. A chart
// whose data did not run (filtered out by -bench, failed) is replaced by a
// note saying so.

// Chart geometry: the PNGs are chartWidth × chartHeight at chartDPI.
const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 4.8 * vg.Inch
	chartDPI    = 96
)

// htmlChart is one chart of the page: a PNG, or the note that replaces it.
type htmlChart struct {
	Title   string
	Caption string
	// PNG is the image as a data: URI; empty when the chart is omitted.
	PNG template.URL
	// Omitted says why there is no image.
	Omitted string
}

// cacheCurve lists the cache_* cases in working-set order, with their key
// counts.
var cacheCurve = []struct {
	name string
	keys float64
}{
	{"cache_hot_key", 1},
	{"cache_working_set_8", 8},
	{"cache_working_set_64", 64},
	{"cache_working_set_512", 512},
	{"cache_uniform_10k", 10_000},
	{"cache_uniform_1m", uniform1MKeys},
}

// WriteHTML writes the report as one self-contained HTML page: the
// cache-locality curve, scaling against workers (Tier D), latency
// percentiles (Tier A and Tier B) and the facade-tax bars, drawn with
// gonum.org/v1/plot and embedded as PNG data URIs, then the text report.
// Charts whose cases did not run are omitted with a note.
func (rep *Report) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		return err
	}
	page := struct {
		Env, Settings, Generated string
		Charts                   []htmlChart
		Text                     string
	}{
		Env:       rep.Env.Short(),
		Settings:  fmt.Sprintf("benchtime %s per case, count %d, selection %s, latency budget %s", rep.BenchTime, rep.Count, orDash(quoteOr(rep.Filter, "all")), orDash(rep.LatencyBudget)),
		Generated: time.Now().UTC().Format(time.RFC3339),
		Charts: []htmlChart{
			rep.cacheChart(),
			rep.scalingChart(),
			rep.latencyChart("Latency percentiles: Tier A (A0 core, A1 engine)", "A0", "A1"),
			rep.latencyChart("Latency percentiles: Tier B (primitive facades)", "B"),
			rep.facadeChart(),
		},
		Text: text.String(),
	}
	return htmlPage.Execute(w, page)
}

// quoteOr quotes s, or returns alt when s is empty.
func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return strconv.Quote(s)
}

// writeHTMLFile renders the page and writes it to path.
func (rep *Report) writeHTMLFile(path string) error {
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

var htmlPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>M3 benchmark report</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption, .note { color: #555; font-size: 0.9em; }
.note { border-left: 3px solid #c90; padding-left: 0.6em; }
pre { font-size: 0.8em; background: #f6f6f6; padding: 1em; overflow-x: auto; }
</style>
</head>
<body>
<h1>M3 benchmark report</h1>
<p>{{.Env}}<br>{{.Settings}}<br>generated {{.Generated}} by cmd/m3bench</p>
<h2>Charts</h2>
{{range .Charts}}{{if .PNG}}<figure>
<img alt="{{.Title}}" src="{{.PNG}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption>
</figure>
{{else}}<p class="note"><b>{{.Title}}: omitted.</b> {{.Omitted}}</p>
{{end}}{{end}}<h2>Report</h2>
<pre>{{.Text}}</pre>
</body>
</html>
`))

// renderChart draws p as a PNG data URI. Plot errors, and the panics
// gonum/plot uses for some bad inputs, become an error.
func renderChart(p *plot.Plot) (uri template.URL, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: %v", r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(chartWidth, chartHeight), vgimg.UseDPI(chartDPI))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// finish renders p into ch, or records why it could not be.
func finish(ch htmlChart, p *plot.Plot) htmlChart {
	uri, err := renderChart(p)
	if err != nil {
		ch.Omitted = "the chart could not be drawn: " + err.Error()
		return ch
	}
	ch.PNG = uri
	return ch
}

// newPlot returns a plot with the report's title and axis labels.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return p
}

// cacheChart is the cache-locality curve: Load ns/op against the working
// set, on a log axis.
func (rep *Report) cacheChart() htmlChart {
	ch := htmlChart{Title: "Cache locality (Tier A0)"}
	var pts plotter.XYs
	var labels []string
	for _, cc := range cacheCurve {
		if c, ok := rep.caseByName(cc.name); ok && c.NsPerOp > 0 {
			pts = append(pts, plotter.XY{X: cc.keys, Y: c.NsPerOp})
			labels = append(labels, fmtNs(c.NsPerOp))
		}
	}
	if len(pts) < 2 {
		ch.Omitted = fmt.Sprintf("It needs at least two of the cache_* cases and %d ran (the others were filtered out by -bench or failed).", len(pts))
		return ch
	}
	p := newPlot("Cache locality: Load latency against working set", "working set (keys, log scale)", "ns/op")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min = 0
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		ch.Omitted = err.Error()
		return ch
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
	if err != nil {
		ch.Omitted = err.Error()
		return ch
	}
	lbl.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(4)}
	p.Add(line, points, lbl)
	p.X.Max = pts[len(pts)-1].X * 3 // room for the last label
	ch.Caption = "lockfree.Map Load cycling over a working set of 1 to 1,000,000 random keys (cache_hot_key ... cache_uniform_1m). " +
		"The step appears where the table outgrows a cache level; see the Cache Locality section of the report for this CPU's cache sizes."
	return finish(ch, p)
}

// scalingChart is Tier D's throughput relative to one worker against the
// worker count, one line per contention kind, with linear scaling and the
// plan's minimums for reference.
func (rep *Report) scalingChart() htmlChart {
	ch := htmlChart{Title: "Scaling against workers (Tier D)"}
	byKind := map[string]plotter.XYs{}
	var kinds []string
	var mins plotter.XYs
	maxW := 1.0
	for _, c := range rep.Cases {
		if c.Tier != "D" || c.Failed {
			continue
		}
		parts := strings.Split(c.Name, "/")
		if len(parts) != 3 {
			continue
		}
		n, err := strconv.Atoi(parts[2])
		x := c.Metrics["x-1worker"]
		if err != nil || n < 1 || x <= 0 {
			continue
		}
		kind := parts[1]
		if _, ok := byKind[kind]; !ok {
			kinds = append(kinds, kind)
			byKind[kind] = plotter.XYs{{X: 1, Y: 1}}
		}
		byKind[kind] = append(byKind[kind], plotter.XY{X: float64(n), Y: x})
		if g := c.Metrics["gate-x"]; g > 0 {
			mins = append(mins, plotter.XY{X: float64(n), Y: g})
		}
		maxW = max(maxW, float64(n))
	}
	if len(kinds) == 0 {
		ch.Omitted = "No contention/* case ran (filtered out by -bench, or failed)."
		return ch
	}
	p := newPlot("Throughput relative to one worker", "workers", "× one worker's throughput")
	p.Legend.Top, p.Legend.Left = true, true
	ideal, err := plotter.NewLine(plotter.XYs{{X: 1, Y: 1}, {X: maxW, Y: maxW}})
	if err != nil {
		ch.Omitted = err.Error()
		return ch
	}
	ideal.Color = color.Gray{Y: 150}
	ideal.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(ideal)
	p.Legend.Add("linear (ideal)", ideal)
	var args []any
	for _, k := range kinds {
		xys := byKind[k]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
		args = append(args, k, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		ch.Omitted = err.Error()
		return ch
	}
	if len(mins) > 0 {
		sc, err := plotter.NewScatter(mins)
		if err == nil {
			sc.GlyphStyle.Shape = draw.CrossGlyph{}
			sc.GlyphStyle.Radius = vg.Points(4)
			sc.GlyphStyle.Color = color.RGBA{R: 200, A: 255}
			p.Add(sc)
			p.Legend.Add("plan minimum", sc)
		}
	}
	p.X.Min, p.Y.Min = 0, 0
	ch.Caption = fmt.Sprintf("Same-key cases (statecell, eventlog) should keep a share of one worker's throughput; disjoint keys must scale. "+
		"The plan's disjoint minimums are judged only with a core per worker: this run had %d logical CPUs.", rep.Env.NumCPU)
	return finish(ch, p)
}

// latencyPoints are the x positions of the latency chart.
var latencyPoints = plot.ConstantTicks{{Value: 0, Label: "p50"}, {Value: 1, Label: "p95"}, {Value: 2, Label: "p99"}, {Value: 3, Label: "max"}}

// latencyChart draws p50, p95, p99 and max of the latency rows of the
// given tiers, one line per operation, on a log axis.
func (rep *Report) latencyChart(title string, tiers ...string) htmlChart {
	ch := htmlChart{Title: title}
	var args []any
	batched := false
	for _, r := range rep.Latency {
		if r.Failed || !slices.Contains(tiers, r.Tier) || r.P50Ns <= 0 {
			continue
		}
		name := r.Name
		if r.Batched {
			name += fmt.Sprintf(" (batch ×%d)", r.Batch)
			batched = true
		}
		args = append(args, name, plotter.XYs{{X: 0, Y: r.P50Ns}, {X: 1, Y: r.P95Ns}, {X: 2, Y: r.P99Ns}, {X: 3, Y: r.MaxNs}})
	}
	if len(args) == 0 {
		ch.Omitted = fmt.Sprintf("No Tier %s operation was in the latency pass (filtered out by -bench, -latency 0, or failed).", strings.Join(tiers, "/"))
		return ch
	}
	p := newPlot(title, "percentile", "ns per operation (log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = latencyPoints
	p.X.Min, p.X.Max = -0.2, 5.6 // the right side holds the legend
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		ch.Omitted = err.Error()
		return ch
	}
	// Whole decades, so that both ends of the log axis are labelled.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(p.Y.Min)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(p.Y.Max*1.2)))
	ch.Caption = "From the latency pass's HDR histograms (budget " + orDash(rep.LatencyBudget) + " per operation)."
	if batched {
		ch.Caption += fmt.Sprintf(" Rows marked batch ×%d took under %s and were timed %d at a time: their points are percentiles of %d-op means.",
			latencyBatch, fmtNs(float64(latencyBatchBelow.Nanoseconds())), latencyBatch, latencyBatch)
	}
	return finish(ch, p)
}

// facadeChart draws the Facade Tax ladders: GET and PUT at A0, A1 and B.
func (rep *Report) facadeChart() htmlChart {
	ch := htmlChart{Title: "Facade tax (A0 → A1 → B)"}
	layers := []string{"A0 (core)", "A1 (engine)", "B (kvstore)"}
	var ops []string
	vals := make([]plotter.Values, len(layers))
	ran := false
	var notes []string
	for _, l := range facadeLadders {
		ops = append(ops, l.op)
		var layerNs [3]float64
		for i, name := range l.layers {
			if c, ok := rep.caseByName(name); ok && c.NsPerOp > 0 {
				layerNs[i] = c.NsPerOp
				ran = true
			}
			vals[i] = append(vals[i], layerNs[i])
		}
		if layerNs[0] > 0 && layerNs[1] > 0 && layerNs[2] > 0 {
			notes = append(notes, fmt.Sprintf("%s: A1/A0 %s, B/A1 %s, B/A0 %s", l.op, fmtRatio(layerNs[1]/layerNs[0]), fmtRatio(layerNs[2]/layerNs[1]), fmtRatio(layerNs[2]/layerNs[0])))
		}
	}
	if !ran {
		ch.Omitted = "None of core_get_hot, engine_get_direct, kvstore_get, core_put_hot, engine_put_direct, kvstore_put ran (filtered out by -bench, or failed)."
		return ch
	}
	p := newPlot("Facade tax: the same operation at each layer", "", "ns/op")
	p.Legend.Top, p.Legend.Left = true, true
	const w = 0.26 // bar width in data units (groups are 1 apart)
	for i, vs := range vals {
		off := float64(i-1) * w
		bar, err := plotter.NewBarChart(vs, vg.Points(60))
		if err != nil {
			ch.Omitted = err.Error()
			return ch
		}
		bar.XMin = off
		bar.Color = plotutil.Color(i)
		bar.LineStyle.Width = 0
		p.Add(bar)
		p.Legend.Add(layers[i], bar)
		var pts plotter.XYs
		var labels []string
		for g, v := range vs {
			pts = append(pts, plotter.XY{X: float64(g) + off, Y: v})
			label := fmtNs(v)
			if v <= 0 {
				label = "not run"
			}
			labels = append(labels, label)
		}
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
		if err != nil {
			ch.Omitted = err.Error()
			return ch
		}
		lbl.Offset = vg.Point{X: -vg.Points(14), Y: vg.Points(3)}
		p.Add(lbl)
	}
	p.NominalX(ops...)
	p.X.Min, p.X.Max = -0.6, float64(len(ops))-0.4
	p.Y.Min = 0
	p.Y.Max *= 1.12 // room for the labels
	ch.Caption = "Time per operation of the plan's Facade Tax rows (A0 core_*_hot, A1 engine_*_direct, B kvstore_*). " + strings.Join(notes, "; ")
	return finish(ch, p)
}
