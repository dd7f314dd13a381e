// Command filefuse serves one file of the local disk over go-fuse with the
// same mount settings as the ebs daemon: each FUSE read or write is one
// pread or pwrite of the backing file, and fsync is its fdatasync. It is the
// ceiling of a Go FUSE volume that keeps its blocks in a local file, which is
// what ebs does (plus encryption and a block map).
//
//	filefuse --mount-dir DIR --backing FILE --size-mib 1024 [--mmap]
//
// With --mmap, reads and writes copy to and from a shared mapping of the
// file instead (the experiment behind blockdev/store/mapped.go).
//
// The file is DIR/file. It runs until SIGINT or SIGTERM, then unmounts.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ebs-dev/ebs/bench/internal/onefile"
)

func main() {
	dir := flag.String("mount-dir", "", "where to mount")
	backing := flag.String("backing", "", "the local file that holds the data")
	sizeMiB := flag.Int64("size-mib", 1024, "file size in MiB")
	useMmap := flag.Bool("mmap", false, "copy into a shared mapping of the file instead of pwrite")
	flag.Parse()
	mmapMode = *useMmap
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*dir, *backing, *sizeMiB<<20, log); err != nil {
		fmt.Fprintln(os.Stderr, "filefuse:", err)
		os.Exit(1)
	}
}

func run(dir, backing string, size int64, log *slog.Logger) error {
	if dir == "" || backing == "" {
		return fmt.Errorf("--mount-dir and --backing are required")
	}
	f, err := os.OpenFile(backing, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	dev := &fileDevice{f: f, size: size}
	if mmapMode {
		dev.m, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return err
		}
	}
	return onefile.Serve(dir, "file", dev, log)
}

// fileDevice is a device backed by a local file.
type fileDevice struct {
	f    *os.File
	size int64
	m    []byte
}

var mmapMode bool

func (d *fileDevice) ReadAt(p []byte, off int64) (int, error) {
	if d.m != nil {
		return copy(p, d.m[off:]), nil
	}
	return d.f.ReadAt(p, off)
}
func (d *fileDevice) WriteAt(p []byte, off int64) (int, error) {
	if d.m != nil {
		return copy(d.m[off:], p), nil
	}
	return d.f.WriteAt(p, off)
}
func (d *fileDevice) Size() int64 { return d.size }
func (d *fileDevice) Sync() error { return unix.Fdatasync(int(d.f.Fd())) }
func (d *fileDevice) Discard(off, length int64) error {
	return unix.Fallocate(int(d.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
}
func (d *fileDevice) ZeroRange(off, length int64) error { return d.Discard(off, length) }
