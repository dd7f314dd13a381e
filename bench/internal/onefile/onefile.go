// Package onefile serves one device as one file on a FUSE mount, with the
// ebs daemon's mount settings, until SIGINT or SIGTERM: the common part of
// the benchmark's reference servers (memfuse, filefuse).
package onefile

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ebs-dev/ebs/fs"
)

// Serve mounts dir, adds dev as dir/name and blocks until SIGINT or
// SIGTERM, then unmounts.
func Serve(dir, name string, dev fs.Device, log *slog.Logger) error {
	if dir == "" {
		return fmt.Errorf("--mount-dir is required")
	}
	m, err := fs.Mount(dir, fs.Options{Logger: log})
	if err != nil {
		return err
	}
	defer m.Unmount()
	if err := m.Add(name, dev); err != nil {
		return err
	}
	log.Info("ready", "file", filepath.Join(dir, name))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
