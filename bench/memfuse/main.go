// Command memfuse serves one in-memory file over go-fuse with the same mount
// settings as the ebs daemon: the ceiling of any Go FUSE volume on this host,
// used by the benchmarks as the reference the volumes are measured against.
//
//	memfuse --mount-dir DIR --size-mib 1024
//
// The file is DIR/mem. It runs until SIGINT or SIGTERM, then unmounts.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/ebs-dev/ebs/bench/internal/onefile"
	"github.com/ebs-dev/ebs/fs"
)

func main() {
	dir := flag.String("mount-dir", "", "where to mount")
	sizeMiB := flag.Int64("size-mib", 1024, "file size in MiB")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*dir, *sizeMiB<<20, log); err != nil {
		fmt.Fprintln(os.Stderr, "memfuse:", err)
		os.Exit(1)
	}
}

func run(dir string, size int64, log *slog.Logger) error {
	return onefile.Serve(dir, "mem", fs.NewMemDevice(size), log)
}
