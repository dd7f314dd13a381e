package fs

import (
	"log/slog"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fuseOptions are the settings measured fastest here (DESIGN.md, FUSE).
func fuseOptions(o Options) *gofs.Options {
	return &gofs.Options{MountOptions: fuse.MountOptions{
		FsName: "ebs",
		Name:   "ebs",
		// Let every user reach the mount (root's loop devices, other
		// users' programs), and let the kernel check each file's mode and
		// owner (default_permissions): without it anyone could read a
		// volume's plaintext. A volume is root's until chmod or chown.
		AllowOther: true,
		Options:    []string{"default_permissions"},
		// 1 MiB requests pay off only without splice: go-fuse otherwise
		// prepares a pipe for every read reply, then falls back.
		MaxWrite:      o.MaxWrite,
		DisableSplice: true,
		// mount(2) directly (we are root); go-fuse falls back to
		// fusermount when that fails.
		DirectMount: true,
		// Direct I/O with ASYNC_DIO travels as "background" requests, of
		// which the kernel keeps at most MaxBackground in flight and
		// queues the rest (go-fuse's default: 12). fio 4 KiB randwrite
		// QD32 here: median ~52k IOPS with 12, ~70-85k with 32 or 64
		// (noisy); 64 leaves room for a loop device's deeper queue.
		MaxBackground: 64,
		// go-fuse does not ask for ASYNC_DIO; without it the kernel
		// sends one direct I/O of a file at a time (libaio QD32 acts
		// like QD1). ExtraCapabilities is ANDed with what the kernel
		// offers in INIT, so an older kernel just goes without.
		ExtraCapabilities: fuse.CAP_ASYNC_DIO,
		// Volume files have no xattrs: answer ENOSYS, after which the
		// kernel stops asking.
		DisableXAttrs: true,
		Debug:         o.Debug,
		Logger:        slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}}
}

// logCapabilities says what the kernel agreed to at INIT.
func logCapabilities(log *slog.Logger, dir string, s *fuse.Server) {
	asyncDIO := s.KernelSettings().Flags64()&fuse.CAP_ASYNC_DIO != 0
	if !asyncDIO {
		log.Warn("kernel does not offer FUSE ASYNC_DIO: queued direct I/O runs one request at a time", "dir", dir)
	}
	log.Info("volume files mounted", "dir", dir, "async_dio", asyncDIO)
}

var ioFlusherOnce sync.Once

// setIOFlusher marks the process as one the kernel's memory reclaim must
// not wait on (PR_SET_IO_FLUSHER): it serves the I/O of loop devices, and
// reclaim writing to such a device would otherwise wait on itself. The
// flag belongs to each thread, so it is set on all of them where Go can do
// that (no cgo); else on the calling thread only, and new threads cloned
// from it inherit it.
func setIOFlusher(log *slog.Logger) {
	ioFlusherOnce.Do(func() {
		_, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_IO_FLUSHER, 1, 0)
		if errno == 0 {
			return
		}
		if err := unix.Prctl(unix.PR_SET_IO_FLUSHER, 1, 0, 0, 0); err != nil {
			log.Warn("prctl(PR_SET_IO_FLUSHER) failed; continuing without it", "err", err)
			return
		}
		log.Debug("PR_SET_IO_FLUSHER set on one thread only", "all_threads_err", errno.Error())
	})
}
