package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestEncryptedVolumeExt4 puts ext4 on an encrypted volume through a loop
// device with 4 KiB sectors and direct I/O: no plaintext reaches the data
// dir (while the same search finds the plaintext of an unencrypted volume),
// and after a restart of the daemon the volume is attached again by itself
// with every file intact and the file system clean.
func TestEncryptedVolumeExt4(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck")
	e := startVolumeDaemon(t)
	newKey(t, e.d, "alias/ext4")
	loopFlags := []string{"--sector-size", "4096", "--direct-io=on"}

	encCanary := "EBS-E2E-ENCRYPTED-CANARY-" + randHex(8) + "-must-never-reach-the-disk|"
	plainCanary := "EBS-E2E-PLAIN-CANARY-" + randHex(8) + "-is-visible-on-disk|"

	enc := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/ext4")
	sums := ext4Write(t, e.attach(enc), loopFlags, encCanary)
	e.detach(enc)

	plain := e.createVolume("--size", "1")
	ext4Write(t, e.attach(plain), loopFlags, plainCanary)
	e.detach(plain)

	// Both volumes are detached, so flushed: search the data dir.
	if n := countInDir(t, e.dataDir, []byte(encCanary)); n != 0 {
		t.Fatalf("the encrypted volume's plaintext canary is in the data dir %d times", n)
	}
	if n := countInDir(t, e.dataDir, []byte(plainCanary)); n == 0 {
		t.Fatal("control failed: the search does not find the unencrypted volume's canary in the data dir")
	}

	// Attached when the daemon stops, attached again when it starts.
	e.attach(enc)
	e.d.restart()
	e.checkFile(enc)
	if st, att := e.volumeState(enc); st != "in-use" || len(att) != 1 {
		t.Fatalf("after restart: state %s, attachments %v", st, att)
	}
	ext4Verify(t, e.file(enc), loopFlags, sums)
	e.detach(enc)

	// Everything written since (journal replay, fsck) is ciphertext too.
	e.d.stop()
	if n := countInDir(t, e.dataDir, []byte(encCanary)); n != 0 {
		t.Fatalf("after the restart the encrypted canary is in the data dir %d times", n)
	}
}

// TestPlainLoopDevice is the same flow through a loop device with 512-byte
// sectors and buffered I/O: the discards of mkfs, of `mount -o discard`
// and of fstrim arrive in pieces that are not whole 4 KiB blocks. The
// volume is 5 GiB (thin) so that mkfs's discard of the whole device is
// split by the loop device at 4 GiB - 512, in the middle of a block.
func TestPlainLoopDevice(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck", "blkdiscard", "fstrim")
	e := startVolumeDaemon(t)
	newKey(t, e.d, "alias/plain-loop")
	id := e.createVolume("--size", "5", "--encrypted", "--kms-key-id", "alias/plain-loop")
	file := e.attach(id)

	// A discard of a part of a block zeroes exactly that part.
	const base = 1 << 20
	f := openVolume(t, file, os.O_RDWR)
	pattern := bytes.Repeat([]byte{0xab}, 16<<10)
	if _, err := f.WriteAt(pattern, base); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	l := losetup(t, file)
	sh(t, "blkdiscard", "--offset", fmt.Sprint(base+1536), "--length", "1024", l.dev)
	sh(t, "blkdiscard", "--offset", fmt.Sprint(base+4096+3584), "--length", "5120", l.dev) // end of a block, all of the next, start of the third
	got := make([]byte, len(pattern))
	if _, err := f.ReadAt(got, base); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(pattern)
	clear(want[1536:2560])
	clear(want[4096+3584 : 4096+3584+5120])
	if !bytes.Equal(got, want) {
		t.Fatalf("after partial discards: %d bytes differ from what is expected", countDiff(got, want))
	}
	f.Close()
	l.detach()

	sums := ext4Write(t, file, nil, "EBS-E2E-PLAIN-LOOP-"+randHex(8)+"|")
	// Delete and rewrite with online discard, then trim, then check.
	l = losetup(t, file)
	m := mountFS(t, l.dev, "-o", "discard")
	victim := filepath.Join(m.dir, "random-0")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	delete(sums, "random-0")
	sums["after-discard"] = writeRandomFile(t, filepath.Join(m.dir, "after-discard"), 3<<20+777)
	sh(t, "sync", "-f", m.dir) // syncfs: a global sync would wait for the whole machine
	sh(t, "fstrim", m.dir)
	m.unmount()
	l.detach()
	ext4Verify(t, file, nil, sums)
	e.detach(id)
}

// ext4Write makes an ext4 file system on the volume file through a loop
// device, writes random files and a file of the canary repeated, and
// returns the sha256 of every file (by path relative to the root). The loop
// device is detached and the file system unmounted when it returns.
func ext4Write(t *testing.T, file string, loopFlags []string, canary string) map[string]string {
	t.Helper()
	l := losetup(t, file, loopFlags...)
	sh(t, "mkfs.ext4", "-q", l.dev)
	m := mountFS(t, l.dev)
	sums := map[string]string{}
	for i, size := range []int{1 << 20, 3<<20 + 123, 64 << 10, 7, 4096} {
		name := fmt.Sprintf("random-%d", i)
		sums[name] = writeRandomFile(t, filepath.Join(m.dir, name), size)
	}
	if err := os.MkdirAll(filepath.Join(m.dir, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	sums["sub/dir/nested"] = writeRandomFile(t, filepath.Join(m.dir, "sub", "dir", "nested"), 200<<10)
	data := []byte(strings.Repeat(canary, (2<<20)/len(canary)))
	if err := os.WriteFile(filepath.Join(m.dir, "canary.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sums["canary.txt"] = sha(data)
	sh(t, "sync", "-f", m.dir) // syncfs: a global sync would wait for the whole machine
	if got := treeSums(t, m.dir); !sameSums(got, sums) {
		t.Fatalf("files read back wrong before unmount:\n got %v\nwant %v", got, sums)
	}
	m.unmount()
	l.detach()
	return sums
}

// ext4Verify mounts the file system again, compares every file's sha256
// and, unmounted, checks it with e2fsck -fn.
func ext4Verify(t *testing.T, file string, loopFlags []string, sums map[string]string) {
	t.Helper()
	l := losetup(t, file, loopFlags...)
	m := mountFS(t, l.dev)
	if got := treeSums(t, m.dir); !sameSums(got, sums) {
		t.Fatalf("files changed:\n got %v\nwant %v", got, sums)
	}
	m.unmount()
	if out, err := exec.Command("e2fsck", "-fn", l.dev).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", l.dev, err, out)
	}
	l.detach()
}

func writeRandomFile(t *testing.T, path string, size int) string {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return sha(data)
}

// treeSums is the sha256 of every regular file under dir (lost+found aside).
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if fi.IsDir() && rel == "lost+found" {
			return filepath.SkipDir
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sums[rel] = sha(data)
		return nil
	})
	if err != nil {
		t.Fatalf("read files under %s: %v", dir, err)
	}
	return sums
}

func sameSums(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func countDiff(a, b []byte) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// countInDir counts the occurrences of needle in the raw bytes of every
// regular file under dir, reading in chunks that overlap by len(needle)-1.
func countInDir(t *testing.T, dir string, needle []byte) int {
	t.Helper()
	total := 0
	var files []string
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(files)
	for _, path := range files {
		n, err := countInFile(path, needle)
		if os.IsNotExist(err) {
			continue // removed meanwhile (a compaction)
		}
		if err != nil {
			t.Fatalf("search %s: %v", path, err)
		}
		total += n
	}
	return total
}

// countInFile counts needle in a file's data, skipping its holes (badger's
// value logs are 2 GiB sparse files). A hole reads as zeros, so a needle
// without zero bytes cannot span one.
func countInFile(path string, needle []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	const seekData, seekHole = 3, 4 // SEEK_DATA, SEEK_HOLE
	total, pos := 0, int64(0)
	buf := make([]byte, 4<<20)
	for pos < fi.Size() {
		start, err := f.Seek(pos, seekData)
		if err != nil { // ENXIO: no data after pos
			break
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			end = fi.Size()
		}
		n, err := countInRange(io.NewSectionReader(f, start, end-start), needle, buf)
		if err != nil {
			return 0, err
		}
		total, pos = total+n, end
	}
	return total, nil
}

// countInRange counts needle in r, reading in chunks that overlap by
// len(needle)-1 bytes.
func countInRange(r io.Reader, needle, buf []byte) (int, error) {
	total, keep := 0, 0
	for {
		n, err := io.ReadFull(r, buf[keep:])
		chunk := buf[:keep+n]
		total += bytes.Count(chunk, needle)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return 0, err
		}
		// The tail is shorter than needle: no match in it was counted.
		keep = min(len(needle)-1, len(chunk))
		copy(buf, chunk[len(chunk)-keep:])
	}
}
