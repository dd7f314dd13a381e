package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// snapBlocks is a model of a volume: the seed of every 512 KiB block
// written (blocks not in it read as zeros).
type snapBlocks map[int64]uint64

func (m snapBlocks) clone() snapBlocks {
	out := snapBlocks{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// snapWriteBlocks writes whole 512 KiB blocks of distinct data to the
// volume file, fsyncs, and records them in the model.
func snapWriteBlocks(t *testing.T, path string, model snapBlocks, phase uint64, idx ...int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, snapDirectBlock)
	for _, i := range idx {
		seed := phase<<32 | uint64(i)
		snapPattern(buf, seed)
		if _, err := f.WriteAt(buf, i*snapDirectBlock); err != nil {
			t.Fatalf("write block %d: %v", i, err)
		}
		model[i] = seed
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
}

// snapCheckBlocks reads the whole volume file and compares every byte with
// the model.
func snapCheckBlocks(t *testing.T, path string, model snapBlocks, what string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 8 << 20 // read in large pieces: much faster through FUSE
	buf, want := make([]byte, chunk), make([]byte, snapDirectBlock)
	bad := 0
	for off := int64(0); off < fi.Size(); off += chunk {
		n := min(chunk, fi.Size()-off)
		if _, err := io.ReadFull(io.NewSectionReader(f, off, n), buf[:n]); err != nil {
			t.Fatalf("%s: read at %d: %v", what, off, err)
		}
		for b := int64(0); b < n/snapDirectBlock; b++ {
			i := off/snapDirectBlock + b
			got := buf[b*snapDirectBlock : (b+1)*snapDirectBlock]
			if seed, ok := model[i]; ok {
				snapPattern(want, seed)
			} else {
				clear(want)
			}
			if !bytes.Equal(got, want) {
				if bad++; bad <= 5 {
					t.Errorf("%s: 512 KiB block %d differs in %d bytes (written: %v)", what, i, countDiff(got, want), model[i] != 0)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d blocks differ", what, bad)
	}
}

func snapRange(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func snapSet(lists ...[]int64) map[int64]bool {
	set := map[int64]bool{}
	for _, l := range lists {
		for _, i := range l {
			set[i] = true
		}
	}
	return set
}

// TestDeleteMiddleSnapshot writes distinct data between three snapshots
// (overwriting blocks of the earlier ones), checks the EBS direct block
// listings, deletes the middle snapshot, and checks that the first and the
// last still restore byte for byte while the blocks only the middle one
// held are freed.
func TestDeleteMiddleSnapshot(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	d := e.d
	newKey(t, d, "alias/delete-middle")
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/delete-middle")
	file := e.attach(vol)
	blocksDir := e.dataDir + "/blocks"

	model := snapBlocks{}
	p1 := append([]int64{0, 1, 2, 7, 1000}, snapRange(64, 72)...)
	p2 := append([]int64{1, 7, 500, 2047}, snapRange(300, 320)...)
	p3 := append([]int64{0, 7, 501}, snapRange(300, 320)...)
	snapWriteBlocks(t, file, model, 1, p1...)
	s1 := snapCreate(t, d, vol)
	m1 := model.clone()
	snapWriteBlocks(t, file, model, 2, p2...)
	s2 := snapCreate(t, d, vol)
	snapWriteBlocks(t, file, model, 3, p3...)
	s3 := snapCreate(t, d, vol)
	m3 := model.clone()

	// Sizes: S2 alone holds the blocks it wrote that S3 overwrote.
	const blk = snapDirectBlock
	wantUnique2 := int64(21) * blk // blocks 7 and 300..319
	info1, info2, info3 := snapDescribe(t, d, s1), snapDescribe(t, d, s2), snapDescribe(t, d, s3)
	if got := snapNum(t, info1, "FullSnapshotSizeInBytes"); got != int64(len(snapSet(p1)))*blk {
		t.Errorf("S1 FullSnapshotSizeInBytes %d, want %d", got, int64(len(snapSet(p1)))*blk)
	}
	if got := snapNum(t, info3, "FullSnapshotSizeInBytes"); got != int64(len(snapSet(p1, p2, p3)))*blk {
		t.Errorf("S3 FullSnapshotSizeInBytes %d, want %d", got, int64(len(snapSet(p1, p2, p3)))*blk)
	}
	unique2 := snapNum(t, info2, "UniqueSizeInBytes")
	if unique2 != wantUnique2 {
		t.Errorf("S2 UniqueSizeInBytes %d, want %d (blocks 7 and 300..319, overwritten after it)", unique2, wantUnique2)
	}
	if got := snapNum(t, info1, "UniqueSizeInBytes"); got != 2*blk {
		t.Errorf("S1 UniqueSizeInBytes %d, want %d (blocks 1 and 7, overwritten after it)", got, 2*blk)
	}
	if unique2 <= 0 {
		t.Fatalf("S2 UniqueSizeInBytes %d before the delete", unique2)
	}

	// The EBS direct APIs.
	checkBlocks := func(what string, got []int64, want map[int64]bool) {
		t.Helper()
		if !snapSameInts(got, snapSorted(want)) {
			t.Errorf("%s: blocks %v, want %v", what, got, snapSorted(want))
		}
	}
	lsb := func(id string) []int64 {
		return snapBlockIndexes(t, d.ok("ebs", "list-snapshot-blocks", "--snapshot-id", id), "Blocks")
	}
	lcb := func(first, second string) []int64 {
		return snapBlockIndexes(t, d.ok("ebs", "list-changed-blocks", "--first-snapshot-id", first, "--second-snapshot-id", second), "ChangedBlocks")
	}
	checkBlocks("list-snapshot-blocks S1", lsb(s1), snapSet(p1))
	checkBlocks("list-snapshot-blocks S3", lsb(s3), snapSet(p1, p2, p3))
	checkBlocks("list-changed-blocks S1 S2", lcb(s1, s2), snapSet(p2))
	checkBlocks("list-changed-blocks S2 S3", lcb(s2, s3), snapSet(p3))
	checkBlocks("list-changed-blocks S1 S3", lcb(s1, s3), snapSet(p2, p3))
	out := d.ok("ebs", "list-snapshot-blocks", "--snapshot-id", s1)
	if snapNum(t, out, "BlockSize") != blk || snapNum(t, out, "VolumeSize") != 1 {
		t.Errorf("list-snapshot-blocks: BlockSize %v, VolumeSize %v", out["BlockSize"], out["VolumeSize"])
	}

	// Delete S2: its unique blocks are freed (punched at the store's next
	// flush), nothing else is.
	before := snapStoredSettled(t, blocksDir, 3*time.Second, nil)
	d.ok("ec2", "delete-snapshot", "--snapshot-id", s2)
	d.fails("InvalidSnapshot.NotFound", "ec2", "describe-snapshots", "--snapshot-ids", s2)
	snapFsync(t, file) // a flush of the store punches what was freed
	after := snapStoredSettled(t, blocksDir, 8*time.Second, func(n int64) bool { return before-n >= unique2 })
	freed := before - after
	t.Logf("data dir blocks: %s before the delete, %s after: %s freed; S2 held %s alone", snapMiB(before), snapMiB(after), snapMiB(freed), snapMiB(unique2))
	if !snapWithin(freed, unique2, 0.05) {
		t.Errorf("deleting S2 freed %s of block storage, want about its UniqueSizeInBytes %s", snapMiB(freed), snapMiB(unique2))
	}
	if got := snapNum(t, snapDescribe(t, d, s1), "UniqueSizeInBytes"); got != 3*blk {
		t.Errorf("S1 UniqueSizeInBytes %d after S2 is gone, want %d (blocks 0, 1 and 7)", got, 3*blk)
	}
	checkBlocks("list-changed-blocks S1 S3 after deleting S2", lcb(s1, s3), snapSet(p2, p3))
	checkBlocks("list-snapshot-blocks S1 after deleting S2", lsb(s1), snapSet(p1))
	checkBlocks("list-snapshot-blocks S3 after deleting S2", lsb(s3), snapSet(p1, p2, p3))

	// S1 and S3 restore byte for byte; the volume itself is S3 too.
	for _, c := range []struct {
		snap  string
		model snapBlocks
	}{{s1, m1}, {s3, m3}} {
		nv := e.createVolume("--snapshot-id", c.snap)
		snapCheckBlocks(t, e.attach(nv), c.model, fmt.Sprintf("volume from %s", c.snap))
		e.detach(nv)
	}
	snapCheckBlocks(t, file, m3, "the volume")
	e.detach(vol)
	byVolume, _ := field(t, d.ok("ec2", "describe-snapshots", "--volume-id", vol), "Snapshots").([]any)
	if len(byVolume) != 2 {
		t.Errorf("describe-snapshots --volume-id %s: %d snapshots, want S1 and S3", vol, len(byVolume))
	}

	// Once the volume is gone, S3 alone holds what it wrote after S1.
	if got := snapNum(t, snapDescribe(t, d, s3), "UniqueSizeInBytes"); got != 0 {
		t.Errorf("S3 UniqueSizeInBytes %d while the volume still holds the same blocks, want 0", got)
	}
	d.ok("ec2", "delete-volume", "--volume-id", vol)
	// Blocks 1, 500, 2047 (from S2) and 0, 7, 501, 300..319 (from S3).
	if got, want := snapNum(t, snapDescribe(t, d, s3), "UniqueSizeInBytes"), int64(26)*blk; got != want {
		t.Errorf("S3 UniqueSizeInBytes %d after its volume was deleted, want %d", got, want)
	}
	nv := e.createVolume("--snapshot-id", s3)
	snapCheckBlocks(t, e.attach(nv), m3, "volume from S3 after its volume was deleted")
	e.detach(nv)
}
