package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the daemon's soft memory limit when GOMEMLIMIT is
// not set. The target is a peak RSS under 512 MiB with the benchmark suite
// running and ten volumes attached. The Go heap is most of the RSS (badger's
// memtable arenas, FUSE and volume buffers, the block maps), and without a
// limit the GC lets the heap grow to twice the live data between cycles
// (GOGC=100). With a limit, the GC runs more often as the heap nears it,
// which keeps the 2x overshoot under 384 MiB and leaves about 128 MiB for
// what is not Go heap (goroutine stacks, the runtime, and badger's mmapped
// tables and logs, which the kernel counts as RSS once touched). It is
// soft: if the live data needs more, the heap grows past it rather than
// fail or thrash.
const defaultMemoryLimit = 384 << 20

// applyMemoryLimit sets the soft memory limit to defaultMemoryLimit unless
// the environment sets GOMEMLIMIT (which the runtime has then applied).
func applyMemoryLimit(log *slog.Logger) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		log.Debug("memory limit from the environment", "GOMEMLIMIT", v)
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Debug("memory limit set", "bytes", defaultMemoryLimit)
}
