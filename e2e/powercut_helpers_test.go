package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/fs/crashfs"
)

// Helpers for the power-cut tests: a daemon whose --data-dir is a crashfs
// mount served by the test process (fs/crashfs), so that a test can kill
// the daemon, throw away everything it had not made durable, and start it
// again on what is left. Its socket lives outside the mount.

// cutEnv is a volume daemon on a crashfs data dir.
type cutEnv struct {
	*volEnv
	cfs        *crashfs.FS
	logs       *lockedBuffer // crashfs's log
	lastKilled string        // the log of the daemon killed last
}

// startCutDaemon starts `ebs serve` with its data dir on a fresh crashfs
// mount with the options o (its logger is set here). Cleanups, in the order they run: the daemon stops (SIGTERM), the
// crashfs mount goes, then the check that nothing is left mounted.
func startCutDaemon(t *testing.T, o crashfs.Options, extra ...string) *cutEnv {
	t.Helper()
	needVolumes(t)
	root := filepath.Dir(t.TempDir()) // the parent of all of the test's TempDirs
	e := &volEnv{t: t, dataDir: t.TempDir(), mountDir: filepath.Join(t.TempDir(), "volumes")}
	t.Cleanup(func() { checkNothingLeft(t, root, e.volumeIDs()...) })
	logs := &lockedBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	cfs, err := crashfs.New(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfs.Mount(e.dataDir); err != nil {
		t.Fatalf("crashfs mount (FUSE): %v", err)
	}
	t.Cleanup(func() {
		if err := cfs.Unmount(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if t.Failed() {
			t.Logf("crashfs log:\n%s", logs.String())
		}
	})
	args := append([]string{"--mount-dir", e.mountDir, "--socket", filepath.Join(t.TempDir(), "ebs.sock")}, extra...)
	e.d = startDaemon(t, e.dataDir, args...)
	c := &cutEnv{volEnv: e, cfs: cfs, logs: logs}
	t.Cleanup(func() {
		if t.Failed() && c.lastKilled != "" {
			t.Logf("log of the daemon killed by the last power cut:\n%s", c.lastKilled)
		}
	})
	t.Cleanup(e.stopQuietly)
	return c
}

// syncAll makes the whole data dir durable, as the file system's journal
// commit or sync(2) would a few seconds after the setup, so that a test's
// cuts bear on what it exercises (TestPowerCutNeedsDirectorySyncs cuts
// without it).
func (c *cutEnv) syncAll() {
	c.t.Helper()
	if err := c.cfs.SyncAll(); err != nil {
		c.t.Fatal(err)
	}
}

// powerCut is the power going off and coming back: the daemon dies
// (SIGKILL), its dead volume mount and the crashfs mount go (the kernel
// writes every page the daemon dirtied through a mapping back as it closes
// its files: not durable), everything not made durable is thrown away, and
// the daemon starts again on the same data dir. Call wait (if not nil)
// after the kill for whatever used the daemon, before its mount goes.
func (c *cutEnv) powerCut(wait func()) crashfs.CutReport {
	c.t.Helper()
	c.d.kill()
	c.lastKilled = c.d.log.String()
	if wait != nil {
		wait()
	}
	unmountQuietly(c.mountDir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.cfs.Unmount()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the data dir is still busy 20s after the daemon died: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := c.cfs.Cut()
	if err != nil {
		c.t.Fatalf("cut: %v", err)
	}
	if err := c.cfs.Mount(c.dataDir); err != nil {
		c.t.Fatal(err)
	}
	c.d.start()
	return r
}

// cli runs the CLI against the daemon's socket from any goroutine (no
// t.Fatal): its decoded JSON output, or an error with its stderr.
func (d *daemon) cli(args ...string) (map[string]any, error) {
	cmd := exec.Command(ebsBin, append([]string{"--socket", d.socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ebs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("ebs %s: output is not JSON: %w", strings.Join(args, " "), err)
	}
	return m, nil
}

// blockProblem is a block that does not hold what the writers' record
// allows.
type blockProblem struct {
	block uint64
	what  string
}

// checkCrashBlocks checks blocks [0, len(data)/4096) written by crashState
// writers: a block in lo (the newest write an fsync acknowledged before the
// point checked) holds that write or a newer intact one, not newer than hi
// (the newest issued); a block not in lo holds zeros or an intact write
// not newer than hi. Blocks in skip (whose earlier loss was reported) are
// checked only once an fsync acknowledged a write to them again.
func checkCrashBlocks(data []byte, lo, hi map[uint64]uint64, skip map[uint64]bool) []blockProblem {
	var out []blockProblem
	for b := uint64(0); b < uint64(len(data))/4096; b++ {
		buf := data[b*4096 : (b+1)*4096]
		want, acked := lo[b]
		if skip[b] && !acked {
			continue
		}
		zero := bytes.Equal(buf, make([]byte, 4096))
		gotB, seq, err := parseCrashBlock(buf)
		switch {
		case !acked && zero:
		case err != nil && acked:
			out = append(out, blockProblem{b, fmt.Sprintf("an fsync acknowledged seq %d; it holds no intact write: %v", want, err)})
		case err != nil:
			out = append(out, blockProblem{b, fmt.Sprintf("never acknowledged, but neither zeros nor an intact write: %v", err)})
		case gotB != b:
			out = append(out, blockProblem{b, fmt.Sprintf("holds the write of block %d", gotB)})
		case acked && seq < want:
			out = append(out, blockProblem{b, fmt.Sprintf("holds seq %d, older than seq %d an fsync acknowledged", seq, want)})
		case seq > hi[b]:
			out = append(out, blockProblem{b, fmt.Sprintf("holds seq %d, newer than any issued (%d)", seq, hi[b])})
		}
	}
	return out
}

// snapshotCrash copies the writers' record: what fsyncs acknowledged, and
// what was issued.
func (s *crashState) snapshotCrash() (synced, issued map[uint64]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	synced, issued = make(map[uint64]uint64, len(s.synced)), make(map[uint64]uint64, len(s.issued))
	for b, q := range s.synced {
		synced[b] = q
	}
	for b, q := range s.issued {
		issued[b] = q
	}
	return synced, issued
}

// fill writes every block of [0, blocks) once and fsyncs: the writes of
// round 0, all acknowledged.
func (s *crashState) fill(t *testing.T, path string, blocks uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, blocks*4096)
	seqs := make([]uint64, blocks)
	for b := range blocks {
		seqs[b] = s.seq.Add(1)
		fillCrashBlock(data[b*4096:(b+1)*4096], 0, 0, b, seqs[b])
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for b, q := range seqs {
		s.synced[uint64(b)], s.issued[uint64(b)] = q, q
	}
}

// readRegion reads the first n bytes of a file.
func readRegion(t *testing.T, path string, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}
