package fs

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testRoot holds every directory the tests mount on, so that the check at
// the end can find whatever they left behind.
var testRoot string

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashAfterMount(dir)
	}
	root, err := os.MkdirTemp("", "ebs-fs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testRoot = root
	os.Chmod(root, 0o755) // other users reach the mounts (TestPermissions)
	code := m.Run()
	if left := leftovers(root); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: tests left behind:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	} else {
		os.RemoveAll(root)
	}
	os.Exit(code)
}

// leftovers lists the mounts and loop devices that still refer to a path
// under root.
func leftovers(root string) []string {
	var left []string
	if f, err := os.Open("/proc/mounts"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if strings.Contains(s.Text(), root) {
				left = append(left, "mount: "+s.Text())
			}
		}
		f.Close()
	}
	if out, err := exec.Command("losetup", "-a").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, root) {
				left = append(left, "loop: "+line)
			}
		}
	}
	return left
}

// requireFUSE skips the test unless it can mount: root and /dev/fuse.
func requireFUSE(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: FUSE mount tests need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIP: /dev/fuse missing: %v", err)
	}
}

// newDir makes a fresh directory under testRoot.
func newDir(t *testing.T, what string) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + what + "-"
	dir, err := os.MkdirTemp(testRoot, name)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// testLog logs warnings and errors to stderr (not to t, which panics when
// a server goroutine logs after the test has ended).
var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// mountTest mounts a fresh directory and unmounts it when the test ends,
// checking that no mount is left.
func mountTest(t *testing.T) *MountPoint {
	t.Helper()
	requireFUSE(t)
	return mountAt(t, newDir(t, "mnt"))
}

// mountAt mounts dir and unmounts it when the test ends.
func mountAt(t *testing.T, dir string) *MountPoint {
	t.Helper()
	m, err := Mount(dir, Options{Logger: testLog})
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("Unmount: %v", err)
		}
		if isMounted(dir) {
			t.Errorf("%s is still mounted after Unmount", dir)
		}
	})
	return m
}

func isMounted(dir string) bool {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// addVolume adds a recording in-memory volume of size bytes and returns it
// with its path.
func addVolume(t *testing.T, m *MountPoint, name string, size int64) (*recDevice, string) {
	t.Helper()
	d := &recDevice{MemDevice: NewMemDevice(size)}
	if err := m.Add(name, d); err != nil {
		t.Fatalf("Add(%s): %v", name, err)
	}
	return d, filepath.Join(m.Dir(), name)
}

// span is a byte range handed to Discard or ZeroRange.
type span struct{ off, length int64 }

// recDevice is a MemDevice that records the calls the mount makes.
type recDevice struct {
	*MemDevice
	calls atomic.Int64 // every call

	mu       sync.Mutex
	syncs    int
	discards []span
	zeroes   []span
}

func (d *recDevice) ReadAt(p []byte, off int64) (int, error) {
	d.calls.Add(1)
	return d.MemDevice.ReadAt(p, off)
}

func (d *recDevice) WriteAt(p []byte, off int64) (int, error) {
	d.calls.Add(1)
	return d.MemDevice.WriteAt(p, off)
}

func (d *recDevice) Sync() error {
	d.calls.Add(1)
	d.mu.Lock()
	d.syncs++
	d.mu.Unlock()
	return d.MemDevice.Sync()
}

func (d *recDevice) Discard(off, length int64) error {
	d.calls.Add(1)
	d.mu.Lock()
	d.discards = append(d.discards, span{off, length})
	d.mu.Unlock()
	return d.MemDevice.Discard(off, length)
}

func (d *recDevice) ZeroRange(off, length int64) error {
	d.calls.Add(1)
	d.mu.Lock()
	d.zeroes = append(d.zeroes, span{off, length})
	d.mu.Unlock()
	return d.MemDevice.ZeroRange(off, length)
}

// takeSpans returns and forgets the recorded discards and zeroings.
func (d *recDevice) takeSpans() (discards, zeroes []span) {
	d.mu.Lock()
	defer d.mu.Unlock()
	discards, zeroes = d.discards, d.zeroes
	d.discards, d.zeroes = nil, nil
	return discards, zeroes
}

// contents copies the device's bytes.
func (d *recDevice) contents() []byte {
	b := make([]byte, d.Size())
	if _, err := d.MemDevice.ReadAt(b, 0); err != nil {
		panic(err)
	}
	return b
}

func (d *recDevice) syncCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.syncs
}

// errnoIs reports whether err is the errno want, saying what it got.
func errnoIs(t *testing.T, what string, err error, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

// TestLeftoversSeesMounts checks the check that TestMain runs at the end.
func TestLeftoversSeesMounts(t *testing.T) {
	m := mountTest(t)
	if left := leftovers(m.Dir()); len(left) != 1 {
		t.Errorf("leftovers while mounted = %q, want the mount", left)
	}
}
