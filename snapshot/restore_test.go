package snapshot

import (
	"bytes"
	"testing"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/kmsclient"
)

// TestRestoreFailureDropsVolume: a volume whose copy from a snapshot fails
// (its new key disabled during the copy) is deleted, and with it, in one
// transaction, the pins it held: its head and the snapshot's view. The
// snapshot is left as it was.
func TestRestoreFailureDropsVolume(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	vol := s.createVolume(1, false, "")
	v := s.attach(vol)
	want := fill(6, 0, 32*bs)
	writeAt(t, v, want, 0)
	snap := s.snapshot(vol)
	s.detach(vol)
	s.deleteVolume(vol)
	r, err := s.snaps.get(snap)
	if err != nil {
		t.Fatal(err)
	}
	hook := func(map[string]string) {
		if _, err := s.kms.DisableKey(s.ctx, &kmsclient.KeyIDInput{KeyID: other}); err != nil {
			t.Error(err)
		}
	}
	s.onDecrypt.Store(&hook)
	_, err = s.snaps.CreateVolume(s.ctx, &blockdev.CreateVolumeInput{SnapshotID: snap, Encrypted: ptr(true), KmsKeyID: other})
	s.onDecrypt.Store(nil)
	if err == nil {
		t.Fatal("a restore under a key disabled during its copy succeeded")
	}
	vols, err := s.vols.Describe(s.ctx, &blockdev.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vols.Volumes) != 0 {
		t.Errorf("volumes left after the failed restore: %+v", vols.Volumes)
	}
	if n := s.holders(r.Source.Lineage, 0); n != 1 {
		t.Errorf("%d pins on the snapshot's lineage after the failed restore, want 1 (the snapshot's)", n)
	}
	if got := s.restore(snap, make([]byte, len(want))); !bytes.Equal(got, want) {
		t.Errorf("the snapshot after the failed restore: %s", firstDiff(got, want))
	}
	s.deleteSnapshot(snap)
	if used := s.usedBlocks(); used != 0 {
		slots, keys := s.mappedSlots()
		t.Errorf("UsedBlocks = %d with everything deleted (map: %d slots, keys %s)", used, slots, keyCounts(keys))
	}
}
