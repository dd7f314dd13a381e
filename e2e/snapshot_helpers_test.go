package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers of the snapshot tests (snapshot*_test.go). Their names start
// with snap so that they do not collide with the other e2e files.

// snapLoopFlags is how the snapshot tests put a loop device on a volume.
var snapLoopFlags = []string{"--sector-size", "4096", "--direct-io=on"}

// snapDirectBlock is the block size of the EBS direct APIs.
const snapDirectBlock = 512 << 10

// snapNeedSQLite makes sure the sqlite3 CLI is there (installing it once
// if it is not), or skips the test.
func snapNeedSQLite(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err == nil {
		return
	}
	snapInstallOnce.Do(func() {
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		aptMu.Lock()
		defer aptMu.Unlock()
		exec.Command("apt-get", "update", "-qq").Run()
		cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "sqlite3")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Run()
	})
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("SKIP: sqlite3 is missing and could not be installed (apt-get install sqlite3)")
	}
}

var snapInstallOnce sync.Once

// snapKeyArn is the ARN of a key given by id or alias.
func snapKeyArn(t *testing.T, d *daemon, key string) string {
	t.Helper()
	arn := str(t, d.ok("kms", "describe-key", "--key-id", key), "KeyMetadata", "Arn")
	if !strings.HasPrefix(arn, "arn:aws:kms:") {
		t.Fatalf("describe-key %s: Arn %q", key, arn)
	}
	return arn
}

// snapCreate runs create-snapshot and checks the answer.
func snapCreate(t *testing.T, d *daemon, vol string) string {
	t.Helper()
	out := d.ok("ec2", "create-snapshot", "--volume-id", vol)
	id := str(t, out, "SnapshotId")
	if !strings.HasPrefix(id, "snap-") || len(id) != 22 {
		t.Fatalf("create-snapshot: SnapshotId %q in %v", id, out)
	}
	if got := str(t, out, "VolumeId"); got != vol {
		t.Fatalf("create-snapshot of %s: VolumeId %q", vol, got)
	}
	return id
}

// snapCopy runs copy-snapshot with the flags and returns the new id.
func snapCopy(t *testing.T, d *daemon, flags ...string) string {
	t.Helper()
	out := d.ok(append([]string{"ec2", "copy-snapshot"}, flags...)...)
	id := str(t, out, "SnapshotId")
	if !strings.HasPrefix(id, "snap-") || len(id) != 22 {
		t.Fatalf("copy-snapshot %v: SnapshotId %q in %v", flags, id, out)
	}
	return id
}

// snapWait runs `ebs ec2 wait snapshot-completed` and requires success.
func snapWait(t *testing.T, d *daemon, ids ...string) {
	t.Helper()
	d.ok(append([]string{"ec2", "wait", "snapshot-completed", "--timeout", "2m", "--snapshot-ids"}, ids...)...)
}

// snapDescribe is one snapshot as describe-snapshots shows it.
func snapDescribe(t *testing.T, d *daemon, id string) map[string]any {
	t.Helper()
	snaps, _ := field(t, d.ok("ec2", "describe-snapshots", "--snapshot-ids", id), "Snapshots").([]any)
	if len(snaps) != 1 {
		t.Fatalf("describe-snapshots %s: %d snapshots", id, len(snaps))
	}
	s := snaps[0].(map[string]any)
	if s["SnapshotId"] != id {
		t.Fatalf("describe-snapshots %s answered %v", id, s)
	}
	return s
}

// snapVolume is one volume as describe-volumes shows it.
func snapVolume(t *testing.T, d *daemon, id string) map[string]any {
	t.Helper()
	vols, _ := field(t, d.ok("ec2", "describe-volumes", "--volume-ids", id), "Volumes").([]any)
	if len(vols) != 1 {
		t.Fatalf("describe-volumes %s: %d volumes", id, len(vols))
	}
	return vols[0].(map[string]any)
}

// snapNum reads a JSON number (or a numeric string) of a decoded object.
func snapNum(t *testing.T, m map[string]any, key string) int64 {
	t.Helper()
	switch v := m[key].(type) {
	case float64:
		return int64(v)
	case string:
		n, err := strconv.ParseInt(strings.TrimSuffix(v, "%"), 10, 64)
		if err == nil {
			return n
		}
	}
	t.Fatalf("%s is not a number in %v", key, m)
	return 0
}

// snapStored is how many bytes of data the files under dir hold: the
// sum of their data ranges (SEEK_DATA/SEEK_HOLE), so that neither the
// extents' preallocation (unwritten extents read as holes on ext4) nor
// punched holes count. It is the data dir's real block storage.
func snapStored(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		for _, r := range dataRanges(f, fi.Size()) {
			total += r[1] - r[0]
		}
		return nil
	})
	if err != nil {
		t.Fatalf("measure %s: %v", dir, err)
	}
	return total
}

// snapStoredSettled measures the block storage until it stops changing
// (freed slots are punched by the store's next flush) or timeout passes,
// stopping early once done says the value is what the caller waits for.
func snapStoredSettled(t *testing.T, dir string, timeout time.Duration, done func(int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := snapStored(t, dir)
	for time.Now().Before(deadline) {
		if done != nil && done(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
		now := snapStored(t, dir)
		if done == nil && now == last {
			return now
		}
		last = now
	}
	return last
}

// snapPattern fills b with the pseudo-random bytes of seed.
func snapPattern(b []byte, seed uint64) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "ebs-e2e-snapshot-pattern")
	r := mrand.NewChaCha8(s)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint64())
	}
}

// snapFill writes n bytes of seed's pattern (in 4 MiB pieces, each with a
// seed of its own) at off of the file at path, fsyncs, and returns the
// sha256 of what it wrote.
func snapFill(t *testing.T, path string, off, n int64, seed uint64) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	h := sha256.New()
	const piece = 4 << 20
	buf := make([]byte, piece)
	for done := int64(0); done < n; done += piece {
		b := buf[:min(piece, n-done)]
		snapPattern(b, seed*1_000_003+uint64(done/piece))
		if _, err := f.WriteAt(b, off+done); err != nil {
			t.Fatalf("write %s at %d: %v", path, off+done, err)
		}
		h.Write(b)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// snapFsync fsyncs an attached volume's file: the daemon flushes its
// block store (which also punches the slots freed since the last flush).
func snapFsync(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", path, err)
	}
}

// snapSum is the sha256 of n bytes at off of the file at path.
func snapSum(t *testing.T, path string, off, n int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		t.Fatalf("read %s [%d, %d): %v", path, off, off+n, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// snapZeroSum is the sha256 of n zero bytes.
func snapZeroSum(n int64) string {
	h := sha256.New()
	io.CopyN(h, zeroReader{}, n)
	return hex.EncodeToString(h.Sum(nil))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// snapSeed is what snapSeedFS put on a file system.
type snapSeed struct {
	sums map[string]string // sha256 by path, as treeSums gives them
	rows int               // rows of the SQLite table items
}

// snapSeedFS makes ext4 on the volume file through a loop device and
// writes files of known sha256, a file of the canary repeated (2 MiB) and
// a SQLite database made with the sqlite3 CLI. The file system is
// unmounted and the loop device detached when it returns.
func snapSeedFS(t *testing.T, file, canary string) snapSeed {
	t.Helper()
	l := losetup(t, file, snapLoopFlags...)
	sh(t, "mkfs.ext4", "-q", l.dev)
	m := mountFS(t, l.dev)
	seed := snapSeed{sums: map[string]string{}, rows: 1234}
	for i, size := range []int{1 << 20, 3<<20 + 123, 64 << 10, 7, 4096} {
		name := fmt.Sprintf("random-%d", i)
		seed.sums[name] = writeRandomFile(t, filepath.Join(m.dir, name), size)
	}
	if err := os.MkdirAll(filepath.Join(m.dir, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	seed.sums["sub/dir/nested"] = writeRandomFile(t, filepath.Join(m.dir, "sub", "dir", "nested"), 200<<10)
	data := []byte(strings.Repeat(canary, (2<<20)/len(canary)))
	if err := os.WriteFile(filepath.Join(m.dir, "canary.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	seed.sums["canary.txt"] = sha(data)
	db := filepath.Join(m.dir, "app.db")
	sh(t, "sqlite3", db, fmt.Sprintf(`CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
INSERT INTO items(name, payload) SELECT 'item-' || x, randomblob(100) FROM c;`, seed.rows))
	if got := snapCountRows(t, db); got != seed.rows {
		t.Fatalf("sqlite3 count on the new database: %d rows, want %d", got, seed.rows)
	}
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	seed.sums["app.db"] = sha(raw)
	sh(t, "sync", "-f", m.dir) // syncfs: a global sync would wait for the whole machine
	if got := treeSums(t, m.dir); !sameSums(got, seed.sums) {
		t.Fatalf("files read back wrong before unmount:\n got %v\nwant %v", got, seed.sums)
	}
	m.unmount()
	l.detach()
	return seed
}

// snapCountRows asks the sqlite3 CLI how many rows the table items has.
func snapCountRows(t *testing.T, db string) int {
	t.Helper()
	out := strings.TrimSpace(sh(t, "sqlite3", db, "SELECT count(*) FROM items; PRAGMA integrity_check;"))
	lines := strings.Split(out, "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[1]) != "ok" {
		t.Fatalf("sqlite3 %s: %q, want the count and ok", db, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		t.Fatalf("sqlite3 count: %q", out)
	}
	return n
}

// snapVerifyFS mounts the file system on the volume file, checks every
// file's sha256 and the SQLite rows, lets extra (if set) act on the
// mounted tree, unmounts, and requires e2fsck -fn to find it clean. The
// loop device is detached when it returns.
func snapVerifyFS(t *testing.T, file string, seed snapSeed, extra func(dir string)) {
	t.Helper()
	l := losetup(t, file, snapLoopFlags...)
	m := mountFS(t, l.dev)
	if got := treeSums(t, m.dir); !sameSums(got, seed.sums) {
		t.Fatalf("files differ on %s:\n got %v\nwant %v", filepath.Base(file), got, seed.sums)
	}
	if got := snapCountRows(t, filepath.Join(m.dir, "app.db")); got != seed.rows {
		t.Fatalf("sqlite3 on %s: %d rows, want %d", filepath.Base(file), got, seed.rows)
	}
	if extra != nil {
		extra(m.dir)
	}
	m.unmount()
	if out, err := exec.Command("e2fsck", "-fn", l.dev).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn on %s: %v\n%s", filepath.Base(file), err, out)
	}
	l.detach()
}

// snapBlockIndexes reads the BlockIndex of every element of list in out.
func snapBlockIndexes(t *testing.T, out map[string]any, list string) []int64 {
	t.Helper()
	items, ok := out[list].([]any)
	if !ok {
		t.Fatalf("no %s list in %v", list, out)
	}
	var idx []int64
	for _, it := range items {
		idx = append(idx, snapNum(t, it.(map[string]any), "BlockIndex"))
	}
	return idx
}

// snapSorted returns the keys of a set, sorted.
func snapSorted(set map[int64]bool) []int64 {
	var out []int64
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func snapSameInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// snapMeter follows the block storage of a data dir.
type snapMeter struct {
	t    *testing.T
	dir  string
	last int64
}

func snapNewMeter(t *testing.T, dataDir string) *snapMeter {
	t.Helper()
	m := &snapMeter{t: t, dir: filepath.Join(dataDir, "blocks")}
	m.last = snapStoredSettled(t, m.dir, 3*time.Second, nil)
	return m
}

// around reports how the block storage changed across fn.
func (m *snapMeter) around(fn func()) int64 {
	m.t.Helper()
	fn()
	now := snapStoredSettled(m.t, m.dir, 3*time.Second, nil)
	grew := now - m.last
	m.last = now
	return grew
}

// snapWithin reports whether got is within frac of want.
func snapWithin(got, want int64, frac float64) bool {
	d, w := float64(got-want), float64(want)
	if d < 0 {
		d = -d
	}
	if w < 0 {
		w = -w
	}
	return d <= frac*w
}

// snapMiB formats bytes as MiB for messages.
func snapMiB(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// dataRanges lists the [start, end) byte ranges of f (size bytes long) that
// hold data, skipping holes (SEEK_DATA/SEEK_HOLE).
func dataRanges(f *os.File, size int64) [][2]int64 {
	const seekData, seekHole = 3, 4
	var out [][2]int64
	for pos := int64(0); pos < size; {
		start, err := f.Seek(pos, seekData)
		if err != nil {
			break // ENXIO: no data after pos
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			end = size
		}
		out = append(out, [2]int64{start, end})
		pos = end
	}
	return out
}
