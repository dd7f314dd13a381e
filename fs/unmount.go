package fs

import (
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Unmount unmounts the directory. A clean unmount fails while a volume
// file is open (a loop device still attached); then, as a last resort, it
// unmounts lazily and logs a warning: the directory is gone at once, and
// whoever still holds a file gets ENXIO from then on. Either way, once
// Unmount returns no Device is called again.
func (m *MountPoint) Unmount() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	defer m.detachAll()
	err := m.server.Unmount()
	if err == nil {
		m.log.Info("volume files unmounted", "dir", m.dir)
		return nil
	}
	m.log.Warn("clean unmount failed; unmounting lazily, open volume files will fail with ENXIO",
		"dir", m.dir, "err", err, "open", m.openNames())
	if err := lazyUnmount(m.dir); err != nil {
		return fmt.Errorf("unmount %s: %w", m.dir, err)
	}
	return nil
}

// detachAll stops every Device call; m.mu is held.
func (m *MountPoint) detachAll() {
	for name, node := range m.files {
		node.detach(true)
		delete(m.files, name)
	}
}

// openNames lists the files with open handles; m.mu is held.
func (m *MountPoint) openNames() []string {
	var names []string
	for name, node := range m.files {
		if node.openHandles() > 0 {
			names = append(names, name)
		}
	}
	return names
}

// lazyUnmount detaches the mount at dir even while it is busy (MNT_DETACH),
// with fusermount's -z when we may not unmount ourselves.
func lazyUnmount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil || err == unix.EINVAL { // EINVAL: not a mount point
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if out, ferr := exec.Command(bin, "-u", "-z", dir).CombinedOutput(); ferr == nil {
			return nil
		} else if _, lerr := exec.LookPath(bin); lerr == nil {
			return fmt.Errorf("%s -u -z: %w: %s", bin, ferr, out)
		}
	}
	return err
}
