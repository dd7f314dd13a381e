// Command chart draws bench/results/latest.json (written by bench/runner)
// as a PNG: for every fio job, one bar per target with its ratio to the
// first target (the bare go-fuse ceiling), so 1.0 is the ceiling.
//
//	go run ./bench/chart [--in bench/results/latest.json] [--out bench/results/latest.png]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

type results struct {
	Date    string   `json:"date"`
	Host    string   `json:"host"`
	Jobs    []string `json:"jobs"`
	Targets []struct {
		Name string `json:"name"`
		Jobs map[string]struct {
			IOPS  float64 `json:"iops"`
			MiBps float64 `json:"mib_per_s"`
		} `json:"jobs"`
	} `json:"targets"`
}

func main() {
	in := flag.String("in", "bench/results/latest.json", "results of bench/runner")
	out := flag.String("out", "bench/results/latest.png", "the PNG to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(r.Targets) < 2 {
		return fmt.Errorf("%s: need at least two targets", in)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("fio, ratio to %s (1.0 = the bare go-fuse ceiling)\n%s, %s", r.Targets[0].Name, r.Date, r.Host)
	p.Y.Label.Text = "ratio (IOPS for 4 KiB jobs, MiB/s for 1 MiB jobs)"
	p.Legend.Top = true
	w := vg.Points(60 / float64(len(r.Targets)))
	for i, t := range r.Targets {
		vals := make(plotter.Values, len(r.Jobs))
		for j, job := range r.Jobs {
			vals[j] = ratio(job, t.Jobs[job].IOPS, t.Jobs[job].MiBps, r.Targets[0].Jobs[job].IOPS, r.Targets[0].Jobs[job].MiBps)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(r.Targets)-1)/2)
		p.Add(bars)
		p.Legend.Add(t.Name, bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Color = color.Gray{Y: 80}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(one)
	p.NominalX(shortNames(r.Jobs)...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign = -0.8
	return p.Save(12*vg.Inch, 6*vg.Inch, out)
}

func ratio(job string, iops, mibs, baseIOPS, baseMiBs float64) float64 {
	if strings.Contains(job, "-1m") {
		if baseMiBs == 0 {
			return 0
		}
		return mibs / baseMiBs
	}
	if baseIOPS == 0 {
		return 0
	}
	return iops / baseIOPS
}

func shortNames(jobs []string) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = strings.TrimPrefix(j, "rand")
	}
	return out
}
