// Command runner measures fio jobs against the benchmark targets side by
// side, in one run, and writes bench/results/latest.{json,md}.
//
//	go run ./bench/runner [--quick] [--repeat 3] [--targets memfuse,ebs-encrypted,ebs-unencrypted] [--memory=false]
//
// Targets: memfuse, filefuse, ebs-encrypted, ebs-unencrypted, ebs-restored, ext4-ebs,
// ext4-file, gocryptfs, qcow2-luks, local-file (targets.go, peers.go).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// defaultTargets are ours, then the peers of issue 5 (see peers.go);
// a peer that cannot be installed or set up is skipped with its reason.
const defaultTargets = "memfuse,filefuse,ebs-encrypted,ebs-unencrypted,ebs-restored,ext4-ebs,ext4-file,gocryptfs,qcow2-luks,local-file"

type options struct {
	ebsBin, memfuseBin string
	filefuseBin        string
	jobsDir, outDir    string
	runtime            time.Duration
	size               string
	repeat             int
	targets            []string
	jobs               []string
	snapshots          bool
	memory             bool
	pprofAddr          string        // the memory measurement's daemon serves pprof here
	holdForPprof       time.Duration // and stays up this long after measuring, for go tool pprof
}

func main() {
	var o options
	var quick bool
	var targets, jobs string
	flag.StringVar(&o.ebsBin, "ebs", "bin/ebs", "the ebs binary")
	flag.StringVar(&o.memfuseBin, "memfuse", "bin/memfuse", "the memfuse binary")
	flag.StringVar(&o.filefuseBin, "filefuse", "bin/filefuse", "the filefuse binary")
	flag.StringVar(&o.jobsDir, "jobs-dir", "bench/jobs", "fio job files")
	flag.StringVar(&o.outDir, "out", "bench/results", "where results go")
	flag.BoolVar(&quick, "quick", false, "2 s per job instead of 10 s")
	flag.IntVar(&o.repeat, "repeat", 1, "runs per job; the median is kept")
	flag.StringVar(&o.size, "size", "1G", "fio file size")
	flag.StringVar(&targets, "targets", defaultTargets, "targets, comma-separated: "+defaultTargets)
	flag.StringVar(&jobs, "jobs", "", "job names, comma-separated (default: every file in --jobs-dir)")
	flag.BoolVar(&o.snapshots, "snapshots", true, "also measure create-snapshot, restore and copy")
	flag.BoolVar(&o.memory, "memory", true, "also measure the daemon's RSS with 10 volumes attached")
	flag.StringVar(&o.pprofAddr, "pprof-addr", "", "the memory measurement's daemon serves pprof on this loopback address")
	flag.DurationVar(&o.holdForPprof, "hold-for-pprof", 0, "with --pprof-addr: keep that daemon up this long after measuring")
	flag.Parse()
	o.runtime = 10 * time.Second
	if quick {
		o.runtime = 2 * time.Second
	}
	o.targets = strings.Split(targets, ",")
	if jobs != "" {
		o.jobs = strings.Split(jobs, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(o, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options, log *slog.Logger) error {
	if len(o.jobs) == 0 {
		files, _ := filepath.Glob(filepath.Join(o.jobsDir, "*.fio"))
		for _, f := range files {
			o.jobs = append(o.jobs, strings.TrimSuffix(filepath.Base(f), ".fio"))
		}
	}
	work, err := os.MkdirTemp("", "ebs-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	res := &results{Date: time.Now().UTC().Format(time.RFC3339), Runtime: o.runtime.String(), Size: o.size, Jobs: o.jobs, Host: hostInfo()}
	// On SIGINT or SIGTERM, tear down the target being measured (its
	// mounts, loop device and daemons) before exiting.
	var mu sync.Mutex
	var current *target
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		s := <-sigs
		log.Warn("interrupted, tearing down", "signal", s)
		mu.Lock()
		if current != nil {
			current.teardown()
		}
		os.RemoveAll(work)
		os.Exit(1)
	}()
	for _, name := range o.targets {
		t, err := newTarget(name, o, work, log)
		if err == nil {
			mu.Lock()
			once := t.teardown
			var done sync.Once
			t.teardown = func() { done.Do(once) }
			current = t
			mu.Unlock()
		}
		if err != nil {
			res.Skipped = append(res.Skipped, skipped{Target: name, Reason: err.Error()})
			log.Warn("target skipped", "target", name, "reason", err)
			continue
		}
		var peaks func() memPeaks
		if t.daemonPID != 0 {
			peaks = watchMemory(t.daemonPID)
		}
		tr, err := measure(t, o, log)
		if peaks != nil {
			p := peaks()
			if peak, _, merr := procMemory(t.daemonPID); merr == nil && err == nil {
				tr.PeakRSSMiB, tr.PeakAnonMiB, tr.PeakFileMiB = peak, p.anonMiB, p.fileMiB
				log.Info("daemon memory", "target", name, "peak_rss_mib", peak, "peak_anon_mib", p.anonMiB, "peak_file_mib", p.fileMiB)
			}
		}
		mu.Lock()
		t.teardown()
		current = nil
		mu.Unlock()
		if err != nil {
			res.Skipped = append(res.Skipped, skipped{Target: name, Reason: "measurement failed: " + err.Error()})
			log.Warn("target failed", "target", name, "err", err)
			continue
		}
		res.Targets = append(res.Targets, tr)
	}
	if o.snapshots {
		snap, err := measureSnapshots(o, work, log)
		if err != nil {
			res.Skipped = append(res.Skipped, skipped{Target: "snapshots", Reason: err.Error()})
		}
		res.Snapshots = snap
	}
	if o.memory {
		mem, err := measureMemory(o, work, log)
		if err != nil {
			res.Skipped = append(res.Skipped, skipped{Target: "memory", Reason: err.Error()})
			log.Warn("memory measurement failed", "err", err)
		}
		res.Memory = mem
	}
	return res.write(o.outDir)
}

// measure pre-fills the target and runs every job on it.
func measure(t *target, o options, log *slog.Logger) (targetResult, error) {
	tr := targetResult{Name: t.name, Description: t.description, Jobs: map[string]jobResult{}}
	if !t.noPrefill {
		log.Info("pre-filling", "target", t.name, "file", t.path)
		if err := prefill(t.path, o.size); err != nil {
			return tr, err
		}
	}
	for _, job := range o.jobs {
		var runs []jobResult
		for i := 0; i < o.repeat; i++ {
			r, err := runFio(filepath.Join(o.jobsDir, job+".fio"), t.path, o)
			if err != nil {
				return tr, fmt.Errorf("job %s: %w", job, err)
			}
			runs = append(runs, r)
		}
		tr.Jobs[job] = median(runs)
		log.Info("measured", "target", t.name, "job", job, "result", tr.Jobs[job].String())
	}
	return tr, nil
}
