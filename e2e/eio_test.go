package e2e

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ebs-dev/ebs/fs/crashfs"
)

// The failure rules of DESIGN.md (Durability), end to end: the data dir is
// on crashfs, which makes the extents' fdatasync, or a write to them, fail
// with EIO on command, as a failing disk would.

const extentPattern = "blocks/extents/extent-*"

// TestFailedFsyncImpairsVolume: an fdatasync of the extents fails under a
// volume's fsync. That fsync says EIO, and so does every later fsync, write
// and read of the volume, even with the disk working again (a retried
// fdatasync would "succeed" with the data lost); describe-volume-status and
// the daemon's log say it is impaired. A volume that had nothing in that
// sync goes on. enable-volume-io opens it again on what was durable, and a
// power cut after that loses nothing acknowledged.
func TestFailedFsyncImpairsVolume(t *testing.T) {
	c := startCutDaemon(t, crashfs.Options{Journaled: true})
	a, b := c.createVolume("--size", "1", "--encrypted"), c.createVolume("--size", "1")
	fa, fb := openVolume(t, c.attach(a), os.O_RDWR), openVolume(t, c.attach(b), os.O_RDWR)
	kept := writeSync(t, fa, 0, "kept")
	writeSync(t, fb, 0, "other")
	c.syncAll()

	c.cfs.Inject(crashfs.Fault{Op: crashfs.OpFsync, Pattern: extentPattern, Times: 1})
	writeAt(t, fa, 1, "lost") // a fresh block: only the failed sync covers it
	wantEIO(t, "the fsync over the failed fdatasync", fa.Sync())
	if c.cfs.Fired(crashfs.OpFsync) != 1 {
		t.Fatalf("the injected fault fired %d times", c.cfs.Fired(crashfs.OpFsync))
	}
	wantEIO(t, "the next fsync, the disk working again", fa.Sync())
	_, err := fa.WriteAt(make([]byte, 4096), 2*4096)
	wantEIO(t, "a write to the impaired volume", err)
	_, err = fa.ReadAt(make([]byte, 4096), 0)
	wantEIO(t, "a read of the impaired volume", err)
	wantVolumeStatus(t, c.d, a, "impaired")
	wantVolumeStatus(t, c.d, b, "ok")
	if !strings.Contains(c.d.log.String(), "volume impaired") || !strings.Contains(c.d.log.String(), a) {
		t.Errorf("the daemon's log does not say that %s is impaired:\n%s", a, c.d.log.String())
	}
	other := writeSync(t, fb, 1, "other goes on")

	c.d.ok("ec2", "enable-volume-io", "--volume-id", a)
	wantVolumeStatus(t, c.d, a, "ok")
	wantBlock(t, fa, 0, kept)
	wantBlock(t, fa, 1, make([]byte, 4096)) // its sync failed: never in the map
	again := writeSync(t, fa, 1, "written again")

	fa.Close()
	fb.Close()
	c.powerCut(nil)
	fa, fb = openVolume(t, c.file(a), os.O_RDWR), openVolume(t, c.file(b), os.O_RDWR)
	wantBlock(t, fa, 0, kept)
	wantBlock(t, fa, 1, again)
	wantBlock(t, fb, 1, other)
}

// TestFailedWriteImpairsVolume: a write to the extents fails. The
// application's write says EIO and the volume is impaired (the block may be
// neither old nor new); a detach and an attach open it again on what was
// durable.
func TestFailedWriteImpairsVolume(t *testing.T) {
	c := startCutDaemon(t, crashfs.Options{Journaled: true})
	a := c.createVolume("--size", "1", "--encrypted")
	fa := openVolume(t, c.attach(a), os.O_RDWR)
	kept := writeSync(t, fa, 0, "kept")
	c.cfs.Inject(crashfs.Fault{Op: crashfs.OpWrite, Pattern: extentPattern, Times: 1})
	_, err := fa.WriteAt(block("not written"), 1*4096) // a fresh slot: pwrite
	wantEIO(t, "a write the extents refused", err)
	wantEIO(t, "the fsync after it", fa.Sync())
	wantVolumeStatus(t, c.d, a, "impaired")
	fa.Close()

	c.detach(a)
	fa = openVolume(t, c.attach(a), os.O_RDWR)
	wantVolumeStatus(t, c.d, a, "ok")
	wantBlock(t, fa, 0, kept)
	wantBlock(t, fa, 1, make([]byte, 4096))
	writeSync(t, fa, 1, "after the attach")
}

// block is a 4 KiB block of a repeated text.
func block(text string) []byte {
	return bytes.Repeat([]byte(text+" "), 4096)[:4096]
}

func writeAt(t *testing.T, f *os.File, i int64, text string) []byte {
	t.Helper()
	b := block(text)
	if _, err := f.WriteAt(b, i*4096); err != nil {
		t.Fatalf("write block %d: %v", i, err)
	}
	return b
}

func writeSync(t *testing.T, f *os.File, i int64, text string) []byte {
	t.Helper()
	b := writeAt(t, f, i, text)
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync after block %d: %v", i, err)
	}
	return b
}

func wantBlock(t *testing.T, f *os.File, i int64, want []byte) {
	t.Helper()
	got := make([]byte, 4096)
	if _, err := f.ReadAt(got, i*4096); err != nil {
		t.Fatalf("read block %d: %v", i, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("block %d: %q..., want %q...", i, got[:16], want[:16])
	}
}

func wantEIO(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("%s: %v, want EIO", what, err)
	}
}

// wantVolumeStatus checks describe-volume-status: "ok", or "impaired" with
// the io-enabled check failed, the potential-data-inconsistency event and
// the enable-volume-io action, as EC2 shows them.
func wantVolumeStatus(t *testing.T, d *daemon, id, want string) {
	t.Helper()
	out := d.ok("ec2", "describe-volume-status", "--volume-ids", id)
	st := field(t, out, "VolumeStatuses").([]any)[0].(map[string]any)
	status := field(t, st, "VolumeStatus", "Status")
	io := field(t, st, "VolumeStatus", "Details").([]any)[0].(map[string]any)
	events, actions := field(t, st, "Events").([]any), field(t, st, "Actions").([]any)
	impaired := want == "impaired"
	ok := status == want && io["Name"] == "io-enabled" && (io["Status"] == "failed") == impaired &&
		(len(events) == 1) == impaired && (len(actions) == 1) == impaired
	if ok && impaired {
		ok = events[0].(map[string]any)["EventType"] == "potential-data-inconsistency" &&
			actions[0].(map[string]any)["Code"] == "enable-volume-io"
	}
	if !ok {
		t.Fatalf("describe-volume-status %s: %v, want %s", id, st, want)
	}
}
