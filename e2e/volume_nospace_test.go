package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFullDiskGivesENOSPC puts the data dir on a 160 MiB tmpfs and writes
// 400 MiB to a volume: the writer gets ENOSPC, what was written before is
// intact (also after a restart), and overwriting written blocks still works
// (they need no new space).
func TestFullDiskGivesENOSPC(t *testing.T) {
	needVolumes(t)
	small := filepath.Join(t.TempDir(), "small")
	if err := os.MkdirAll(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot mount a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { unmountQuietly(small) })
	mnt := filepath.Join(t.TempDir(), "volumes")
	d := startDaemon(t, filepath.Join(small, "data"), "--mount-dir", mnt)
	t.Cleanup(func() { // stop before the tmpfs goes (cleanups run last-in first-out)
		if d.cmd != nil {
			d.stop()
		}
		unmountQuietly(mnt)
	})
	vol := str(t, d.ok("ec2", "create-volume", "--size", "1", "--encrypted"), "VolumeId")
	d.ok("ec2", "attach-volume", "--volume-id", vol)
	file := filepath.Join(mnt, vol)

	data := make([]byte, 400<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dd", "if="+src, "of="+file, "bs=1M", "oflag=direct", "conv=notrunc,fsync").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No space left on device") {
		t.Fatalf("writing 400 MiB to a 160 MiB disk: %v, %s; want ENOSPC", err, out)
	}
	written := int64(64 << 20) // well below what fit; dd reports the rest
	check := func(when string) {
		t.Helper()
		got := make([]byte, written)
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[:written]) {
			t.Fatalf("%s: data written before the disk filled differs", when)
		}
	}
	check("after ENOSPC")
	if out, err := exec.Command("dd", "if="+src, "of="+file, "bs=1M", "count=16", "oflag=direct", "conv=notrunc,fsync").CombinedOutput(); err != nil {
		t.Fatalf("overwriting written blocks on a full disk: %v %s", err, out)
	}
	d.restart()
	check("after a restart")
}
