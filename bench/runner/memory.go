package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The daemon's memory (issue 5: peak RSS under 512 MiB during the suite and
// with 10 volumes attached). Each ebs target reports its daemon's peak RSS
// after its jobs; measureMemory is the dedicated measurement.

// memoryTargetMiB is the target for the daemon's peak RSS.
const memoryTargetMiB = 512

// memoryResult is the dedicated measurement: one daemon, Volumes encrypted
// volumes of VolumeGiB attached, WrittenMiB written to each with fio
// (direct I/O, 1 MiB writes, fsync at the end), then the daemon's VmHWM
// (peak RSS since it started) and VmRSS.
type memoryResult struct {
	Volumes    int     `json:"volumes"`
	VolumeGiB  int     `json:"volume_gib"`
	WrittenMiB int     `json:"written_mib_each"`
	AttachMiB  float64 `json:"rss_after_attach_mib"`
	PeakMiB    float64 `json:"peak_rss_mib"`
	RSSMiB     float64 `json:"rss_mib"`
	AnonMiB    float64 `json:"peak_anon_rss_mib"` // sampled every 100 ms
	FileMiB    float64 `json:"peak_file_rss_mib"`
	TargetMiB  int     `json:"target_mib"`
}

// procStatus reads the memory lines of /proc/<pid>/status, in MiB:
// VmHWM (peak RSS), VmRSS, RssAnon (heap, stacks) and RssFile (mapped files:
// the daemon maps its extent files, so the page cache of the blocks it
// touched counts here; it is shared and reclaimable).
func procStatus(pid int) (map[string]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS" && name != "RssAnon" && name != "RssFile") {
			continue
		}
		kB, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		out[name] = kB / 1024
	}
	if len(out) != 4 {
		return nil, fmt.Errorf("/proc/%d/status: want VmHWM, VmRSS, RssAnon and RssFile, got %v", pid, out)
	}
	return out, sc.Err()
}

// procMemory is a process's peak and current RSS in MiB.
func procMemory(pid int) (peakMiB, rssMiB float64, err error) {
	m, err := procStatus(pid)
	if err != nil {
		return 0, 0, err
	}
	return m["VmHWM"], m["VmRSS"], nil
}

// memPeaks are the largest anonymous and file-backed RSS a watch saw.
type memPeaks struct{ anonMiB, fileMiB float64 }

// watchMemory samples a process's RssAnon and RssFile every 100 ms (the
// kernel keeps a peak only of their sum) until the returned function is
// called; that returns the peaks.
func watchMemory(pid int) func() memPeaks {
	done, res := make(chan struct{}), make(chan memPeaks, 1)
	go func() {
		var p memPeaks
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := procStatus(pid); err == nil {
				p.anonMiB, p.fileMiB = max(p.anonMiB, m["RssAnon"]), max(p.fileMiB, m["RssFile"])
			}
			select {
			case <-done:
				res <- p
				return
			case <-tick.C:
			}
		}
	}()
	return func() memPeaks { close(done); return <-res }
}

// backgroundPID is background that also returns the process's id.
func backgroundPID(bin string, args ...string) (func(), int, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	}, cmd.Process.Pid, nil
}

// startDaemon starts `ebs serve` in work/name and waits until it is ready.
// With pprofAddr, the daemon serves net/http/pprof there.
func startDaemon(o options, work, name, pprofAddr string) (daemonCLI, func(), int, error) {
	data, mnt := filepath.Join(work, name, "data"), filepath.Join(work, name, "mnt")
	args := []string{"serve", "--data-dir", data, "--mount-dir", mnt, "--log-level", "warn"}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	stop, pid, err := backgroundPID(o.ebsBin, args...)
	if err != nil {
		return daemonCLI{}, nil, 0, err
	}
	d := daemonCLI{bin: o.ebsBin, sock: filepath.Join(data, "ebs.sock"), mnt: mnt}
	if _, err := d.run("wait-ready"); err != nil {
		stop()
		return daemonCLI{}, nil, 0, err
	}
	return d, stop, pid, nil
}

// measureMemory starts a daemon, creates and attaches 10 encrypted 8 GiB
// volumes, writes 64 MiB to each with fio, and reads the daemon's memory.
func measureMemory(o options, work string, log *slog.Logger) (*memoryResult, error) {
	res := &memoryResult{Volumes: 10, VolumeGiB: 8, WrittenMiB: 64, TargetMiB: memoryTargetMiB}
	d, stop, pid, err := startDaemon(o, work, "memory", o.pprofAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	peaks := watchMemory(pid)
	var vols []string
	for range res.Volumes {
		vol, err := d.text("ec2", "create-volume", "--size", strconv.Itoa(res.VolumeGiB), "--encrypted", "--query", "VolumeId")
		if err != nil {
			return nil, err
		}
		if _, err := d.run("ec2", "attach-volume", "--volume-id", vol); err != nil {
			return nil, err
		}
		vols = append(vols, vol)
	}
	if _, res.AttachMiB, err = procMemory(pid); err != nil {
		return nil, err
	}
	for _, vol := range vols {
		if err := fioWrite(filepath.Join(d.mnt, vol), fmt.Sprintf("%dM", res.WrittenMiB), 0); err != nil {
			return nil, err
		}
	}
	if res.PeakMiB, res.RSSMiB, err = procMemory(pid); err != nil {
		return nil, err
	}
	p := peaks()
	res.AnonMiB, res.FileMiB = p.anonMiB, p.fileMiB
	log.Info("memory", "volumes", res.Volumes, "peak_rss_mib", res.PeakMiB, "rss_mib", res.RSSMiB, "peak_anon_mib", p.anonMiB, "peak_file_mib", p.fileMiB)
	if o.pprofAddr != "" && o.holdForPprof > 0 {
		log.Info("holding the daemon for pprof", "addr", o.pprofAddr, "for", o.holdForPprof)
		time.Sleep(o.holdForPprof)
	}
	for _, vol := range vols {
		d.run("ec2", "detach-volume", "--volume-id", vol)
	}
	return res, nil
}

// markdownMemory is the "Memory" section: the dedicated measurement and the
// peak RSS of each ebs target's daemon.
func (r *results) markdownMemory() string {
	var b strings.Builder
	var daemons []targetResult
	for _, t := range r.Targets {
		if t.PeakRSSMiB > 0 {
			daemons = append(daemons, t)
		}
	}
	if r.Memory == nil && len(daemons) == 0 {
		return ""
	}
	fmt.Fprintf(&b, "\nMemory of the ebs daemon (target: peak RSS under %d MiB; VmHWM and VmRSS from /proc/<pid>/status; "+
		"anonymous = heap and stacks, file = the mapped extent files' page cache, shared and reclaimable, peaks sampled every 100 ms):\n\n", memoryTargetMiB)
	b.WriteString("| measure | value |\n|---|---|\n")
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "| %d encrypted %d GiB volumes attached: RSS | %.0f MiB |\n", m.Volumes, m.VolumeGiB, m.AttachMiB)
		fmt.Fprintf(&b, "| then %d MiB written to each (fio, direct I/O): peak RSS | %.0f MiB |\n", m.WrittenMiB, m.PeakMiB)
		fmt.Fprintf(&b, "| RSS at the end | %.0f MiB |\n", m.RSSMiB)
		fmt.Fprintf(&b, "| peak anonymous / file RSS | %.0f / %.0f MiB |\n", m.AnonMiB, m.FileMiB)
	}
	for _, t := range daemons {
		fmt.Fprintf(&b, "| daemon serving %s: peak RSS; peak anonymous / file | %.0f MiB; %.0f / %.0f MiB |\n", t.Name, t.PeakRSSMiB, t.PeakAnonMiB, t.PeakFileMiB)
	}
	return b.String()
}
