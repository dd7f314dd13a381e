// Package bench holds the benchmarks run by `make bench`: fio job files
// (jobs/), the bare in-memory go-fuse server that is the ceiling of any Go
// FUSE volume here (memfuse/), and the runner that measures every target side
// by side in one run and writes JSON and a Markdown table of ratios, with
// the daemon's memory (runner/), and the summary of the Go benchmarks
// (gosummary/). Results land in bench/results/.
package bench
