package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// standard are the units with a column of their own, in order.
var standard = []string{"ns/op", "MB/s", "B/op", "allocs/op"}

// markdown is a heading and a table per package.
func (r *report) markdown(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Go benchmarks\n\nSummarised %s by bench/gosummary from go-bench.txt (the raw `go test -bench` output).\n",
		now.Format(time.RFC3339))
	if len(r.pkgs) > 0 {
		c := r.pkgs[0].config
		fmt.Fprintf(&b, "Machine: %s/%s, %s.\n", c["goos"], c["goarch"], orDash(c["cpu"]))
	}
	for _, p := range r.pkgs {
		if len(p.results) == 0 && len(p.skipped) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", p.pkg)
		if len(p.results) > 0 {
			b.WriteString("| benchmark | ns/op | MB/s | B/op | allocs/op | other metrics |\n|---|---:|---:|---:|---:|---|\n")
			for _, res := range p.results {
				fmt.Fprintf(&b, "| %s |", strings.TrimPrefix(res.name, "Benchmark"))
				for _, u := range standard {
					if v, ok := res.metrics[u]; ok {
						fmt.Fprintf(&b, " %s |", number(v))
					} else {
						b.WriteString(" |")
					}
				}
				var other []string
				for _, u := range res.units {
					if !isStandard(u) {
						other = append(other, number(res.metrics[u])+" "+u)
					}
				}
				fmt.Fprintf(&b, " %s |\n", strings.Join(other, ", "))
			}
		}
		for _, s := range p.skipped {
			fmt.Fprintf(&b, "\n- skipped: %s\n", s)
		}
	}
	if len(r.failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

func isStandard(u string) bool {
	for _, s := range standard {
		if u == s {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// number prints v with thousands separators when it is 1000 or more (no
// decimals), and with up to four significant digits below.
func number(v float64) string {
	if math.Abs(v) < 1000 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
