package fs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAttr(t *testing.T) {
	m := mountTest(t)
	const size = 3<<20 + 512
	_, path := addVolume(t, m, "vol-0123456789abcdef0", size)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode != syscall.S_IFREG|0o600 || st.Size != size || st.Uid != 0 || st.Gid != 0 || st.Nlink != 1 {
		t.Errorf("stat = mode %o size %d uid %d gid %d nlink %d; want regular 0600, %d, root",
			st.Mode, st.Size, st.Uid, st.Gid, st.Nlink, size)
	}
	if st.Blocks != (size+511)/512 {
		t.Errorf("blocks = %d, want %d", st.Blocks, (size+511)/512)
	}
	if err := unix.Stat(m.Dir(), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("stat of the directory: mode %o, %v", st.Mode, err)
	}
}

func TestSetattr(t *testing.T) {
	m := mountTest(t)
	const size = 1 << 20
	d, path := addVolume(t, m, "vol-1", size)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Errorf("chmod: %v", err)
	}
	if err := os.Chown(path, 1000, 1000); err != nil {
		t.Errorf("chown: %v", err)
	}
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Errorf("utimes: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 1000 || sys.Gid != 1000 || !st.ModTime().Equal(when) {
		t.Errorf("after chmod, chown, utimes: mode %v uid %d gid %d mtime %v", st.Mode(), sys.Uid, sys.Gid, st.ModTime())
	}
	errnoIs(t, "truncate to 0", os.Truncate(path, 0), syscall.EPERM)
	errnoIs(t, "truncate to grow", os.Truncate(path, size+4096), syscall.EPERM)
	if err := os.Truncate(path, size); err != nil {
		t.Errorf("truncate to the current size: %v", err)
	}
	_, err = os.OpenFile(path, os.O_RDWR|os.O_TRUNC, 0)
	errnoIs(t, "open with O_TRUNC", err, syscall.EPERM)
	if st, err := os.Stat(path); err != nil || st.Size() != size {
		t.Errorf("size after refused truncates: %v, %v", st.Size(), err)
	}
	if d.calls.Load() != 0 {
		t.Errorf("setattr called the device %d times", d.calls.Load())
	}
}

func TestDirectoryRefusesChanges(t *testing.T) {
	m := mountTest(t)
	_, path := addVolume(t, m, "vol-1", 1<<20)
	dir := m.Dir()
	other := filepath.Join(dir, "other")
	_, err := os.Create(other)
	errnoIs(t, "create", err, syscall.EPERM)
	errnoIs(t, "mkdir", os.Mkdir(other, 0o755), syscall.EPERM)
	errnoIs(t, "mknod", unix.Mknod(other, syscall.S_IFREG|0o600, 0), syscall.EPERM)
	errnoIs(t, "symlink", os.Symlink(path, other), syscall.EPERM)
	errnoIs(t, "link", os.Link(path, other), syscall.EPERM)
	errnoIs(t, "unlink", os.Remove(path), syscall.EPERM)
	errnoIs(t, "rename", os.Rename(path, other), syscall.EPERM)
	errnoIs(t, "chmod of the directory", os.Chmod(dir, 0o777), syscall.EPERM)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the volume file is gone after the refusals: %v", err)
	}
}

func TestReaddirAndNames(t *testing.T) {
	m := mountTest(t)
	want := []string{"vol-0000000000000000a", "vol-0000000000000000b", "vol-0000000000000000c"}
	for _, name := range []string{want[2], want[0], want[1]} {
		addVolume(t, m, name, 4096)
	}
	entries, err := os.ReadDir(m.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
		if !e.Type().IsRegular() {
			t.Errorf("%s: type %v, want a regular file", e.Name(), e.Type())
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(m.Names(), want) {
		t.Errorf("readdir %v, Names %v; want %v", got, m.Names(), want)
	}
}

func TestAddErrors(t *testing.T) {
	m := mountTest(t)
	addVolume(t, m, "vol-1", 4096)
	if err := m.Add("vol-1", NewMemDevice(4096)); !errors.Is(err, ErrExists) {
		t.Errorf("Add twice: %v, want ErrExists", err)
	}
	for _, name := range []string{"", ".", "..", "a/b", "a\x00b", strings.Repeat("a", 256)} {
		if err := m.Add(name, NewMemDevice(4096)); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Add(%q): %v, want ErrInvalidName", name, err)
		}
	}
	if err := m.Remove("vol-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of an unknown file: %v, want ErrNotFound", err)
	}
}

func TestFsync(t *testing.T) {
	m := mountTest(t)
	d, path := addVolume(t, m, "vol-1", 1<<20)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Errorf("fdatasync: %v", err)
	}
	if got := d.syncCount(); got != 2 {
		t.Errorf("Device.Sync called %d times, want 2", got)
	}
	if err := f.Close(); err != nil { // FLUSH
		t.Errorf("close: %v", err)
	}
}

// TestPermissions checks that the kernel enforces the mode: another user
// cannot read a root volume (allow_other with default_permissions) until
// it is given the file.
func TestPermissions(t *testing.T) {
	m := mountTest(t)
	_, path := addVolume(t, m, "vol-1", 1<<20)
	const nobody = 65534
	readAs := func(uid uint32) error {
		cmd := exec.Command("dd", "if="+path, "of=/dev/null", "bs=4096", "count=1", "status=none")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := readAs(nobody); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("read by another user of a 0600 root file: %v, want permission denied", err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := readAs(nobody); err != nil {
		t.Errorf("read by the file's new owner: %v", err)
	}
}
