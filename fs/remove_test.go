package fs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestRemove(t *testing.T) {
	m := mountTest(t)
	const name = "vol-1"
	d, path := addVolume(t, m, name, 1<<20)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(name); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove while open: %v, want ErrBusy", err)
	}
	if _, err := f.WriteAt([]byte("still"), 0); err != nil {
		t.Errorf("write after the refused Remove: %v", err)
	}
	f.Close()
	// At once after close: the kernel's RELEASE may still be on its way.
	if err := m.Remove(name); err != nil {
		t.Fatalf("Remove after close: %v", err)
	}
	calls := d.calls.Load()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat after Remove: %v, want ENOENT", err)
	}
	if len(m.Names()) != 0 {
		t.Errorf("Names after Remove = %v", m.Names())
	}
	if err := m.Remove(name); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	// The name can be used again, for another device.
	d2, _ := addVolume(t, m, name, 4096)
	if got, err := os.ReadFile(path); err != nil || len(got) != 4096 || got[0] != 0 {
		t.Errorf("read of the re-added file: %d bytes, %v", len(got), err)
	}
	if d.calls.Load() != calls || d2.calls.Load() == 0 {
		t.Errorf("calls after Remove: old device %d -> %d, new device %d", calls, d.calls.Load(), d2.calls.Load())
	}
}

// TestDetachWaitsForIO checks that detaching waits for a Device call in
// flight and that no call starts afterwards.
func TestDetachWaitsForIO(t *testing.T) {
	n := newVolumeNode("vol-1", NewMemDevice(4096), testLog)
	end, err := n.begin()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- n.detach(false) }()
	select {
	case <-done:
		t.Fatal("detach returned while a call was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	end()
	if !<-done {
		t.Fatal("detach refused with no handle open")
	}
	if _, err := n.begin(); !errors.Is(err, errDetached) {
		t.Errorf("begin after detach: %v, want errDetached", err)
	}
	if _, err := n.readAt(make([]byte, 10), 0); !errors.Is(err, syscall.ENXIO) {
		t.Errorf("read after detach: %v, want ENXIO", err)
	}
}

// TestUnmountBusy unmounts while a file is open: the clean unmount fails,
// the lazy one takes the directory away, and the file then fails with
// ENXIO instead of reaching the Device.
func TestUnmountBusy(t *testing.T) {
	m := mountTest(t)
	d, path := addVolume(t, m, "vol-1", 1<<20)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := m.Unmount(); err != nil {
		t.Fatalf("Unmount with an open file: %v", err)
	}
	if isMounted(m.Dir()) {
		t.Fatalf("%s still mounted", m.Dir())
	}
	calls := d.calls.Load()
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.ENXIO) {
		t.Errorf("write after Unmount: %v, want ENXIO", err)
	}
	if d.calls.Load() != calls {
		t.Error("the device was called after Unmount")
	}
	if err := m.Add("vol-2", NewMemDevice(4096)); !errors.Is(err, ErrUnmounted) {
		t.Errorf("Add after Unmount: %v, want ErrUnmounted", err)
	}
	if err := m.Remove("vol-1"); !errors.Is(err, ErrUnmounted) {
		t.Errorf("Remove after Unmount: %v, want ErrUnmounted", err)
	}
}

// crashEnv names the directory that the test binary, run again as a
// helper, mounts before it exits without unmounting, as a crashed daemon.
const crashEnv = "EBS_FS_TEST_CRASH_DIR"

func crashAfterMount(dir string) {
	if _, err := Mount(dir, Options{Logger: testLog}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// TestMountOverDeadMount mounts where a crashed daemon left its mount,
// whose directory then fails with ENOTCONN.
func TestMountOverDeadMount(t *testing.T) {
	requireFUSE(t)
	dir := newDir(t, "mnt")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if isMounted(dir) {
			lazyUnmount(dir)
		}
	})
	_, err := os.Stat(dir)
	errnoIs(t, "stat of the dead mount", err, syscall.ENOTCONN)
	m := mountAt(t, dir)
	_, path := addVolume(t, m, "vol-1", 4096)
	if _, err := os.ReadFile(path); err != nil {
		t.Errorf("read on the new mount: %v", err)
	}
}
