package snapshot

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/kv"
)

// Snapshot create and delete against volume size. The claims to check
// (service.go, blockdev/store/pins.go): CreateSnapshot is O(1) in the
// volume's size and in its data (one flush and one transaction); deleting
// a snapshot walks the change index of the generations it alone covers, so
// it costs in proportion to the blocks written there (and frees the unique
// ones), never to the volume's size. Run them with
//
//	go test -run XXX -bench . ./snapshot/
//
// Every case runs on an encrypted, attached volume of 1, 16 and 256 GiB
// holding either the same 16 MiB ("data=16MiB") or 1 MiB per GiB of size
// ("data=size/1024": 1, 16 and 256 MiB).

var benchSizesGiB = []int64{1, 16, 256}

// benchCase is one volume size and amount of data written to it.
type benchCase struct {
	sizeGiB   int64
	dataBytes int64
}

func benchCases() []benchCase {
	var cs []benchCase
	for _, size := range benchSizesGiB {
		cs = append(cs, benchCase{size, 16 << 20})
	}
	for _, size := range benchSizesGiB {
		if size<<20 != 16<<20 { // 16 GiB at size/1024 is the case above
			cs = append(cs, benchCase{size, size << 20})
		}
	}
	return cs
}

func (c benchCase) String() string {
	return fmt.Sprintf("size=%dGiB/data=%dMiB", c.sizeGiB, c.dataBytes>>20)
}

// benchVolume is an attached, encrypted volume with c.dataBytes written
// from offset 0 and flushed.
type benchVolume struct {
	s    *stack
	id   string
	v    *blockdev.Volume
	c    benchCase
	data []byte // 512 KiB of random data, written over and over
}

func newBenchVolume(b *testing.B, c benchCase) *benchVolume {
	s := newStack(b)
	bv := &benchVolume{s: s, c: c, data: make([]byte, 512<<10)}
	rand.Read(bv.data)
	bv.id = s.createVolume(c.sizeGiB, true, s.createKey("bench"))
	bv.v = s.attach(bv.id)
	bv.overwrite(b)
	return bv
}

// overwrite writes the volume's data again (new blocks wherever a snapshot
// holds the old ones) and flushes it.
func (bv *benchVolume) overwrite(b *testing.B) {
	for off := int64(0); off < bv.c.dataBytes; off += int64(len(bv.data)) {
		if _, err := bv.v.WriteAt(bv.data, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := bv.v.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSnapshotCreate times a snapshot of an attached volume with one
// block written (untimed) since the snapshot before, so that each one
// flushes and commits a map change as it would in use. "api" is
// CreateSnapshot, response included; "freeze" is its core alone (the
// volume's Freeze and the pin, in the same transaction, without building
// the response). Neither should depend on the volume's size.
func BenchmarkSnapshotCreate(b *testing.B) {
	for _, mode := range []string{"api", "freeze"} {
		for _, c := range benchCases() {
			b.Run(mode+"/"+c.String(), func(b *testing.B) { benchCreate(b, c, mode == "api") })
		}
	}
}

func benchCreate(b *testing.B, c benchCase, api bool) {
	bv := newBenchVolume(b, c)
	blk := bv.data[:store.BlockSize]
	i := int64(0)
	for b.Loop() {
		b.StopTimer()
		if _, err := bv.v.WriteAt(blk, (i%4096)*store.BlockSize); err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		if api {
			bv.s.snapshot(bv.id)
			continue
		}
		holder := fmt.Sprintf("bench-%d", i)
		err := bv.s.vols.Snapshot(bv.s.ctx, bv.id, func(tx *kv.Txn, src blockdev.SourceInfo) error {
			return bv.s.st.PinInTx(tx, src.Lineage, src.Gen, holder)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotDelete times DeleteSnapshot of the volume's only
// snapshot. "unique": the volume's data was overwritten after the snapshot
// (untimed), so every block of it is the snapshot's alone and is freed.
// "shared": nothing was overwritten; the delete walks the same change
// index (every block written since the volume was created) and frees
// nothing. Metrics:
// unique-blocks (freed per delete) and us/MiB-written (per MiB written in
// the generations the snapshot covers), which should stay flat across
// sizes.
func BenchmarkSnapshotDelete(b *testing.B) {
	for _, mode := range []string{"unique", "shared"} {
		for _, c := range benchCases() {
			b.Run(mode+"/"+c.String(), func(b *testing.B) {
				benchDelete(b, c, mode == "unique")
			})
		}
	}
}

func benchDelete(b *testing.B, c benchCase, overwrite bool) {
	bv := newBenchVolume(b, c)
	var took time.Duration
	var freed uint64
	for b.Loop() {
		b.StopTimer()
		snap := bv.s.snapshot(bv.id)
		if overwrite {
			bv.overwrite(b)
		}
		before := bv.s.usedBlocks()
		b.StartTimer()
		start := time.Now()
		bv.s.deleteSnapshot(snap)
		took += time.Since(start)
		b.StopTimer()
		freed += before - bv.s.usedBlocks()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(freed)/n, "unique-blocks")
	b.ReportMetric(float64(took.Microseconds())/n/float64(c.dataBytes>>20), "us/MiB-written")
}
