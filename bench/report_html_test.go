package bench

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"regexp"
	"strings"
	"testing"
)

// externalRef finds src/href attributes that point outside the page.
var externalRef = regexp.MustCompile(`(?i)\b(src|href)\s*=\s*["']?\s*(https?:)?//`)

// checkSelfContained fails t if the page loads anything from elsewhere, or
// if an embedded image is not a PNG.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("page refers outside itself: %q", m)
	}
	for _, bad := range []string{"<script", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(page, -1) {
		data, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1])) // html/template writes '+' as &#43;
		if err != nil {
			t.Errorf("bad base64 image: %v", err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("embedded image is not a PNG: %v", err)
		}
	}
}

// chartReport has data for every chart of the page.
func chartReport() *Report {
	nsFig := func(v float64) Figure { return Figure{NsPerOp: v} }
	rep := &Report{BenchTime: "100ms", Count: 1, LatencyBudget: "100ms"}
	for i, cc := range cacheCurve {
		rep.Cases = append(rep.Cases, CaseResult{Name: cc.name, Tier: "A0", Group: "cache", Figure: nsFig(5 + 3*float64(i*i))})
	}
	rep.Cases = append(rep.Cases,
		CaseResult{Name: "core_get_hot", Tier: "A0", Group: "core", Figure: nsFig(9)},
		CaseResult{Name: "engine_get_direct", Tier: "A1", Group: "engine", Figure: nsFig(60)},
		CaseResult{Name: "kvstore_get", Tier: "B", Group: "kvstore", Figure: nsFig(140)},
		CaseResult{Name: "core_put_hot", Tier: "A0", Group: "core", Figure: nsFig(14)},
		CaseResult{Name: "engine_put_direct", Tier: "A1", Group: "engine", Figure: nsFig(200)},
	)
	for _, s := range contentionSpecs {
		x := 0.3
		if s.kind == "disjoint" {
			x = float64(s.workers) * 0.8
		}
		rep.Cases = append(rep.Cases, CaseResult{Name: s.name(), Tier: "D", Group: contentionGroup,
			Figure: Figure{NsPerOp: 100, Metrics: map[string]float64{"x-1worker": x, "gate-x": s.min, "workers": float64(s.workers)}}})
	}
	rep.Latency = []LatencyResult{
		{Name: "core_get_hot", Tier: "A0", Batched: true, Batch: 64, MeanNs: 9, P50Ns: 8.5, P95Ns: 12, P99Ns: 20, MaxNs: 300},
		{Name: "engine_get_direct", Tier: "A1", Batch: 1, MeanNs: 70, P50Ns: 60, P95Ns: 90, P99Ns: 200, MaxNs: 9000},
		{Name: "kvstore_put", Tier: "B", Batch: 1, MeanNs: 400, P50Ns: 350, P95Ns: 600, P99Ns: 1200, MaxNs: 80000},
	}
	return rep
}

func TestWriteHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := chartReport().WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	checkSelfContained(t, page)
	if n := strings.Count(page, `src="data:image/png;base64,`); n != 5 {
		t.Errorf("%d charts embedded, want 5 (cache, scaling, latency A, latency B, facade)", n)
	}
	for _, want := range []string{
		"<!DOCTYPE html>", "Cache locality (Tier A0)", "Scaling against workers (Tier D)",
		"Latency percentiles: Tier A", "Latency percentiles: Tier B", "Facade tax", "GET: A1/A0",
		"<pre>", "=== Facade Tax Report ===", "=== Latency Distribution",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "omitted") {
		t.Errorf("a chart was omitted although its data is there")
	}
}

// TestWriteHTMLMissingData checks that charts without data are replaced by
// notes, and that the page is still whole.
func TestWriteHTMLMissingData(t *testing.T) {
	rep := &Report{Cases: []CaseResult{{Name: "cache_hot_key", Tier: "A0", Group: "cache", Figure: Figure{NsPerOp: 5}}}}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	checkSelfContained(t, page)
	if strings.Contains(page, "data:image/png") {
		t.Errorf("a chart was drawn without data")
	}
	for _, want := range []string{
		"Cache locality (Tier A0): omitted.", "at least two of the cache_* cases and 1 ran",
		"Scaling against workers (Tier D): omitted.", "No contention/* case ran",
		"No Tier A0/A1 operation was in the latency pass", "No Tier B operation",
		"Facade tax (A0 → A1 → B): omitted.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the note %q", want)
		}
	}
}
