// Command gosummary summarises `go test -bench` output: it copies its
// standard input to standard output as it arrives (so a long run shows
// progress), then writes the raw text to <out>/go-bench.txt and a Markdown
// table per package to <out>/go-bench.md: benchmark, ns/op, MB/s, B/op,
// allocs/op and every custom metric (b.ReportMetric).
//
//	go test -run '^$' -bench . ./blockdev/store/ 2>&1 | go run ./bench/gosummary -out bench/results
//
// It exits with status 1 if the input reports a failure (a FAIL line), so
// that `make bench-go` fails when a benchmark does. It parses the standard
// format (golang.org/x/perf/benchfmt would do it too, but has no tagged
// release and would be this repo's only use of x/perf).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "bench/results", "directory for go-bench.txt and go-bench.md")
	flag.Parse()
	var raw bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(os.Stdout, &raw), os.Stdin); err != nil {
		fail(err)
	}
	rep := parse(raw.String())
	md := rep.markdown(time.Now().UTC())
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	for name, data := range map[string][]byte{"go-bench.txt": raw.Bytes(), "go-bench.md": []byte(md)} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Printf("\nwrote %s and %s: %d benchmarks\n", filepath.Join(*out, "go-bench.md"), filepath.Join(*out, "go-bench.txt"), rep.count())
	if len(rep.failures) > 0 {
		fail(fmt.Errorf("failures: %s", strings.Join(rep.failures, "; ")))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gosummary:", err)
	os.Exit(1)
}

// result is one benchmark line: its name (without the -GOMAXPROCS suffix),
// iterations and metrics by unit, in the order they were printed.
type result struct {
	name    string
	procs   string
	iters   int64
	units   []string
	metrics map[string]float64
}

// pkgResults are the results of one package, with its configuration lines
// (goos, goarch, cpu...).
type pkgResults struct {
	pkg     string
	config  map[string]string
	results []result
	skipped []string
}

type report struct {
	pkgs     []*pkgResults
	failures []string
}

func (r *report) count() int {
	n := 0
	for _, p := range r.pkgs {
		n += len(p.results)
	}
	return n
}

// parse reads the standard benchmark format: "key: value" configuration
// lines ("pkg:" starts a package), "BenchmarkName-P  N  v unit  v unit...",
// "--- SKIP: Name" and "FAIL" lines; anything else is ignored.
func parse(text string) *report {
	r := &report{}
	var cur *pkgResults
	config := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lastSkip string
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			if res, ok := parseResult(line); ok {
				if cur == nil {
					cur = &pkgResults{pkg: "?", config: maps.Clone(config)}
					r.pkgs = append(r.pkgs, cur)
				}
				cur.results = append(cur.results, res)
			}
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			lastSkip = strings.TrimPrefix(trimmed, "--- SKIP: ")
			if cur != nil {
				cur.skipped = append(cur.skipped, lastSkip)
			}
		case lastSkip != "" && strings.HasPrefix(line, "    "):
			if cur != nil && len(cur.skipped) > 0 { // the skip's reason, as the benchmark logged it
				cur.skipped[len(cur.skipped)-1] += ": " + trimmed
			}
			lastSkip = ""
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(trimmed, "--- FAIL: "):
			r.failures = append(r.failures, trimmed)
		default:
			lastSkip = ""
			if k, v, ok := strings.Cut(line, ": "); ok && isConfigKey(k) {
				if k == "pkg" { // goos and goarch come before it, cpu after
					cur = r.pkg(v, config)
					continue
				}
				config[k] = v
				if cur != nil {
					cur.config[k] = v
				}
			}
		}
	}
	return r
}

// isConfigKey reports whether k is a configuration key: lower case
// letters, digits and dashes, as in the format's specification.
func isConfigKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseResult parses "BenchmarkX/sub-2  100  12.5 ns/op  80 MB/s  3 things".
func parseResult(line string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return result{}, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return result{}, false
	}
	res := result{name: f[0], iters: iters, metrics: map[string]float64{}}
	if i := strings.LastIndexByte(res.name, '-'); i > 0 {
		if _, err := strconv.Atoi(res.name[i+1:]); err == nil {
			res.name, res.procs = res.name[:i], res.name[i+1:]
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		res.units = append(res.units, f[i+1])
		res.metrics[f[i+1]] = v
	}
	return res, true
}

// pkg returns the results of package name, new or from an earlier run of
// go test in the same input.
func (r *report) pkg(name string, config map[string]string) *pkgResults {
	for _, p := range r.pkgs {
		if p.pkg == name {
			return p
		}
	}
	p := &pkgResults{pkg: name, config: maps.Clone(config)}
	r.pkgs = append(r.pkgs, p)
	return p
}
