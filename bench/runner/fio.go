package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// jobResult is one fio job's numbers: IOPS, MiB/s and the 99th percentile
// completion latency in microseconds.
type jobResult struct {
	IOPS  float64 `json:"iops"`
	MiBps float64 `json:"mib_per_s"`
	P99us float64 `json:"p99_us"`
}

func (r jobResult) String() string {
	return fmt.Sprintf("%.0f IOPS, %.0f MiB/s, p99 %.0f us", r.IOPS, r.MiBps, r.P99us)
}

type fioOutput struct {
	Jobs []struct {
		Read  fioSide `json:"read"`
		Write fioSide `json:"write"`
	} `json:"jobs"`
}

type fioSide struct {
	IOPS  float64 `json:"iops"`
	BWKiB float64 `json:"bw"`
	Clat  struct {
		Percentile map[string]float64 `json:"percentile"`
	} `json:"clat_ns"`
}

func runFio(jobFile, path string, o options) (jobResult, error) {
	args := []string{"--output-format=json", "--filename=" + path, "--size=" + o.size,
		fmt.Sprintf("--runtime=%ds", int(o.runtime.Seconds())), "--ramp_time=1s", jobFile}
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		return jobResult{}, fmt.Errorf("fio %s: %w", strings.Join(args, " "), err)
	}
	// fio may print notes before the JSON document.
	if i := strings.IndexByte(string(out), '{'); i > 0 {
		out = out[i:]
	}
	var f fioOutput
	if err := json.Unmarshal(out, &f); err != nil || len(f.Jobs) == 0 {
		return jobResult{}, fmt.Errorf("fio output: %v", err)
	}
	side := f.Jobs[0].Read
	if f.Jobs[0].Write.IOPS > side.IOPS {
		side = f.Jobs[0].Write
	}
	return jobResult{IOPS: side.IOPS, MiBps: side.BWKiB / 1024, P99us: side.Clat.Percentile["99.000000"] / 1000}, nil
}

// prefill writes the whole file once so that reads hit stored blocks, and
// fsyncs it, so that no job pays for writing back the prefill.
func prefill(path, size string) error {
	out, err := exec.Command("fio", "--name=prefill", "--filename="+path, "--size="+size, "--rw=write", "--bs=1M",
		"--iodepth=8", "--ioengine=libaio", "--direct=1", "--end_fsync=1", "--output-format=terse").CombinedOutput()
	if err != nil {
		return fmt.Errorf("prefill: %w: %s", err, out)
	}
	return nil
}

func median(runs []jobResult) jobResult {
	sort.Slice(runs, func(i, j int) bool { return runs[i].IOPS < runs[j].IOPS })
	return runs[len(runs)/2]
}
