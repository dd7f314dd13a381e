package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

type results struct {
	Date      string          `json:"date"`
	Host      string          `json:"host"`
	Runtime   string          `json:"runtime_per_job"`
	Size      string          `json:"file_size"`
	Jobs      []string        `json:"jobs"`
	Targets   []targetResult  `json:"targets"`
	Skipped   []skipped       `json:"skipped,omitempty"`
	Snapshots *snapshotResult `json:"snapshots,omitempty"`
	Memory    *memoryResult   `json:"memory,omitempty"`
}

type targetResult struct {
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Jobs        map[string]jobResult `json:"jobs"`
	PeakRSSMiB  float64              `json:"daemon_peak_rss_mib,omitempty"` // ebs targets: VmHWM after the jobs
	PeakAnonMiB float64              `json:"daemon_peak_anon_rss_mib,omitempty"`
	PeakFileMiB float64              `json:"daemon_peak_file_rss_mib,omitempty"`
}

type skipped struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

func hostInfo() string {
	out, _ := exec.Command("uname", "-sr").Output()
	return fmt.Sprintf("%s, %d CPUs", strings.TrimSpace(string(out)), runtime.NumCPU())
}

// write saves the JSON and the Markdown table, and prints the table.
func (r *results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), raw, 0o644); err != nil {
		return err
	}
	md := r.markdown()
	fmt.Print(md)
	return os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md), 0o644)
}

// markdown is one table: a row per job, a column per target with its
// number (IOPS for 4 KiB jobs, MiB/s for 1 MiB jobs) and, after the first
// target, the ratio to the first target.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s; fio, %s file, direct I/O, %s per job after a 1 s ramp.\n\n", r.Date, r.Host, r.Size, r.Runtime)
	b.WriteString("| job |")
	for i, t := range r.Targets {
		fmt.Fprintf(&b, " %s |", t.Name)
		if i > 0 {
			fmt.Fprintf(&b, " ratio |")
		}
	}
	b.WriteString("\n|---|")
	for i := range r.Targets {
		b.WriteString("---|")
		if i > 0 {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, job := range r.Jobs {
		fmt.Fprintf(&b, "| %s |", job)
		base := 0.0
		for i, t := range r.Targets {
			v, unit := pick(job, t.Jobs[job])
			fmt.Fprintf(&b, " %.0f %s (p99 %.0f us) |", v, unit, t.Jobs[job].P99us)
			if i == 0 {
				base = v
			} else if base > 0 {
				fmt.Fprintf(&b, " %.2fx |", v/base)
			} else {
				b.WriteString(" - |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "- %s: %s\n", t.Name, t.Description)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "- %s: skipped: %s\n", s.Target, s.Reason)
	}
	if s := r.Snapshots; s != nil {
		fmt.Fprintf(&b, "\nSnapshots (encrypted volumes holding the same 64 MiB):\n\n")
		fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
		fmt.Fprintf(&b, "| create-snapshot, 1 GiB volume (median of 7, CLI round trip) | %.1f ms |\n", s.CreateMs1GiB)
		fmt.Fprintf(&b, "| create-snapshot, 100 GiB volume | %.1f ms |\n", s.CreateMs100GiB)
		fmt.Fprintf(&b, "| ratio 100 GiB / 1 GiB | %.2f |\n", s.Ratio)
		fmt.Fprintf(&b, "| read of a volume restored from a snapshot (1M sequential, reads through to it) | %.0f MiB/s |\n", s.RestoreReadMiBps)
		fmt.Fprintf(&b, "| copy-snapshot to another CMK, %d MiB re-encrypted | %.0f MiB/s |\n", s.CopyMiB, s.CopyReencryptMiBs)
	}
	b.WriteString(r.markdownMemory())
	return b.String()
}

func pick(job string, r jobResult) (float64, string) {
	if strings.Contains(job, "-1m") {
		return r.MiBps, "MiB/s"
	}
	return r.IOPS, "IOPS"
}
