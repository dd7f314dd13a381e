package e2e

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/ebs-dev/ebs/fs/crashfs"
)

// TestPowerCutNeedsDirectorySyncs cuts the power with POSIX's rule for
// names (fs/crashfs's default: a new name is durable once its directory is
// fsynced, whatever else was synced) after writes that an fsync
// acknowledged, and checks that the daemon comes back with them:
//   - right after the first start, when the daemon made its data dir;
//   - after the first write made the first extent file;
//   - after restarts, each of which flushes badger's memtables into new
//     table files.
func TestPowerCutNeedsDirectorySyncs(t *testing.T) {
	t.Run("first start", func(t *testing.T) {
		c := startCutDaemon(t, crashfs.Options{})
		vol := c.createVolume("--size", "1", "--encrypted")
		w := &namedWrites{file: c.attach(vol), blocks: map[int64][]byte{}}
		w.write(t, 0)
		c.cutAndCheck(t, vol, w)
	})
	t.Run("new extent file", func(t *testing.T) {
		c := startCutDaemon(t, crashfs.Options{})
		vol := c.createVolume("--size", "1", "--encrypted")
		w := &namedWrites{file: c.attach(vol), blocks: map[int64][]byte{}}
		c.syncAll() // the data dir is durable; no block was written yet
		w.write(t, 0)
		c.cutAndCheck(t, vol, w)
	})
	t.Run("badger tables", func(t *testing.T) {
		c := startCutDaemon(t, crashfs.Options{})
		vol := c.createVolume("--size", "1", "--encrypted")
		w := &namedWrites{file: c.attach(vol), blocks: map[int64][]byte{}}
		w.write(t, 0)
		c.syncAll() // the data dir and the first extent file are durable
		for i := int64(1); i <= 4; i++ {
			w.write(t, i)
			c.cutAndCheck(t, vol, w)
		}
	})
}

// namedWrites are blocks of a volume file written and fsynced.
type namedWrites struct {
	file   string
	blocks map[int64][]byte
}

// write writes block i with random data and fsyncs.
func (w *namedWrites) write(t *testing.T, i int64) {
	t.Helper()
	data := bytes.Repeat([]byte(fmt.Sprintf("block %d %s ", i, randHex(8))), 4096)[:4096]
	f, err := os.OpenFile(w.file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, i*4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	w.blocks[i] = data
}

// cutAndCheck cuts the power and checks that the daemon came back with the
// volume attached and every block it acknowledged.
func (c *cutEnv) cutAndCheck(t *testing.T, vol string, w *namedWrites) {
	t.Helper()
	r := c.powerCut(nil)
	t.Logf("power cut: %v", r)
	res, err := c.d.cli("ec2", "describe-volumes", "--volume-ids", vol)
	if err != nil {
		t.Fatalf("volume %s, which create-volume acknowledged, after the power cut: %v", vol, err)
	}
	if vols, _ := res["Volumes"].([]any); len(vols) != 1 {
		t.Fatalf("describe-volumes %s after the power cut: %v", vol, res)
	}
	f, err := os.Open(w.file)
	if err != nil {
		t.Fatalf("the volume file after the power cut: %v", err)
	}
	defer f.Close()
	for i, want := range w.blocks {
		got := make([]byte, 4096)
		if _, err := f.ReadAt(got, i*4096); err != nil {
			c.d.kill() // a daemon that failed a read this way may not stop
			t.Fatalf("block %d, written and fsynced, after the power cut: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("block %d, written and fsynced, after the power cut: %q..., want %q...", i, got[:16], want[:16])
		}
	}
}
