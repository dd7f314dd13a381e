package fs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExt4OnLoop makes an ext4 file system on a loop device over a volume
// file, fills it, trims it, checks it with e2fsck and reads it back: with
// 4 KiB sectors and direct I/O (the fast way), and with plain losetup
// (512-byte sectors: discards and zeroings arrive in pieces of blocks).
func TestExt4OnLoop(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sector4096-dio", []string{"--sector-size", "4096", "--direct-io=on"}},
		{"sector512", nil},
	} {
		t.Run(tc.name, func(t *testing.T) { testExt4(t, tc.args) })
	}
}

func testExt4(t *testing.T, losetupArgs []string) {
	m := mountTest(t)
	requireTools(t, "losetup", "mkfs.ext4", "e2fsck", "fstrim")
	const name = "vol-0123456789abcdef0"
	d, path := addVolume(t, m, name, 256<<20)
	loop := attachLoop(t, path, losetupArgs...)
	if err := m.Remove(name); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove while the loop device is attached: %v, want ErrBusy", err)
	}
	run(t, "mkfs.ext4", "-q", loop)
	discards, zeroes := d.takeSpans()
	t.Logf("mkfs.ext4: %d discards (%d not 4 KiB aligned), %d zero ranges (%d not aligned)",
		len(discards), unaligned(discards), len(zeroes), unaligned(zeroes))
	mnt := mountExt4(t, loop)
	sums := writeFiles(t, mnt, 16)
	deleteHalf(t, mnt, sums)
	run(t, "fstrim", mnt)
	discards, _ = d.takeSpans()
	t.Logf("fstrim: %d discards (%d not 4 KiB aligned)", len(discards), unaligned(discards))
	if len(discards) == 0 {
		t.Error("fstrim sent no discard to the device")
	}
	unmountExt4(t, mnt)
	run(t, "e2fsck", "-fn", loop)
	mnt = mountExt4(t, loop)
	checkFiles(t, mnt, sums)
	unmountExt4(t, mnt)
	run(t, "e2fsck", "-fn", loop)
	detachLoop(t, loop)
	if err := m.Remove(name); err != nil {
		t.Errorf("Remove after the loop device is detached: %v", err)
	}
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (apt-get install util-linux e2fsprogs): %v", tool, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// attachLoop attaches a loop device to file and detaches it when the test
// ends (after anything mounted on it is unmounted).
func attachLoop(t *testing.T, file string, args ...string) string {
	t.Helper()
	args = append([]string{"--find", "--show"}, append(args, file)...)
	loop := strings.TrimSpace(run(t, "losetup", args...))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-j", file).Output(); err == nil && len(out) > 0 {
			detachLoop(t, loop)
		}
	})
	return loop
}

func detachLoop(t *testing.T, loop string) {
	t.Helper()
	if out, err := exec.Command("losetup", "-d", loop).CombinedOutput(); err != nil {
		t.Errorf("losetup -d %s: %v: %s", loop, err, out)
	}
}

// mountExt4 mounts the loop device and unmounts it when the test ends,
// unless the test did.
func mountExt4(t *testing.T, loop string) string {
	t.Helper()
	mnt := newDir(t, "ext4")
	if err := unix.Mount(loop, mnt, "ext4", 0, ""); err != nil {
		t.Fatalf("mount %s: %v", loop, err)
	}
	t.Cleanup(func() {
		if isMounted(mnt) {
			unmountExt4(t, mnt)
		}
	})
	return mnt
}

func unmountExt4(t *testing.T, mnt string) {
	t.Helper()
	unix.Sync()
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Errorf("umount %s: %v", mnt, err)
	}
}

// writeFiles writes n files of random sizes and contents, syncs, and
// returns their checksums by file name.
func writeFiles(t *testing.T, dir string, n int) map[string][32]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	sums := make(map[string][32]byte)
	for i := range n {
		data := make([]byte, 1+rng.IntN(4<<20))
		fillRandom(rng, data)
		name := fmt.Sprintf("file%02d", i)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = sha256.Sum256(data)
	}
	unix.Sync()
	return sums
}

// deleteHalf deletes every other file, leaving space for fstrim.
func deleteHalf(t *testing.T, dir string, sums map[string][32]byte) {
	t.Helper()
	for i := 0; ; i += 2 {
		name := fmt.Sprintf("file%02d", i)
		if _, ok := sums[name]; !ok {
			break
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		delete(sums, name)
	}
	unix.Sync()
}

func checkFiles(t *testing.T, dir string, sums map[string][32]byte) {
	t.Helper()
	for name, want := range sums {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(data); !bytes.Equal(got[:], want[:]) {
			t.Errorf("%s: contents changed", name)
		}
	}
}

func unaligned(spans []span) int {
	k := 0
	for _, s := range spans {
		if s.off%4096 != 0 || s.length%4096 != 0 {
			k++
		}
	}
	return k
}
