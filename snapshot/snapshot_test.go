package snapshot

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/kv"
)

const bs = blockdev.BlockSize

// fill is n bytes of a pattern that names tag and the byte's block.
func fill(tag byte, off, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = tag ^ byte((off+i)/bs)
	}
	return p
}

func writeAt(t testing.TB, v *blockdev.Volume, p []byte, off int) {
	t.Helper()
	if n, err := v.WriteAt(p, int64(off)); err != nil || n != len(p) {
		t.Fatalf("write %s at %d: %d, %v", v.ID(), off, n, err)
	}
}

func TestDeleteMiddleSnapshot(t *testing.T) {
	s := newStack(t)
	id := s.createVolume(1, true, "")
	v := s.attach(id)
	data := make([]byte, 16*bs)
	write := func(tag byte, first, n int) {
		p := fill(tag, first*bs, n*bs)
		writeAt(t, v, p, first*bs)
		copy(data[first*bs:], p)
	}
	write(1, 0, 16)
	snap1, want1 := s.snapshot(id), slices.Clone(data)
	write(2, 0, 4)
	snap2 := s.snapshot(id)
	write(3, 0, 2)
	write(3, 4, 2)
	snap3, want3 := s.snapshot(id), slices.Clone(data)
	write(4, 8, 1)

	if used := s.usedBlocks(); used != 16+4+4+1 {
		t.Errorf("UsedBlocks = %d, want 25", used)
	}
	// snap2 alone holds blocks 0 and 1 of generation 2 (2 and 3 are still
	// in snap3).
	if u := s.describe(snap2).UniqueSizeInBytes; u == nil || *u != 2*bs {
		t.Errorf("UniqueSizeInBytes(snap2) = %v, want %d", u, 2*bs)
	}
	before := s.usedBlocks()
	s.deleteSnapshot(snap2)
	after := s.usedBlocks()
	if before-after != 2 {
		t.Errorf("deleting the middle snapshot freed %d slots, want 2 (its unique blocks)", before-after)
	}
	if got := s.readSnapshot(snap1, make([]byte, len(data))); !bytes.Equal(got, want1) {
		t.Errorf("snap1 after deleting snap2: %s", firstDiff(got, want1))
	}
	if got := s.readSnapshot(snap3, make([]byte, len(data))); !bytes.Equal(got, want3) {
		t.Errorf("snap3 after deleting snap2: %s", firstDiff(got, want3))
	}
	if got := s.restore(snap1, make([]byte, len(data))); !bytes.Equal(got, want1) {
		t.Errorf("volume from snap1: %s", firstDiff(got, want1))
	}
	if got := s.restore(snap3, make([]byte, len(data))); !bytes.Equal(got, want3) {
		t.Errorf("volume from snap3: %s", firstDiff(got, want3))
	}
	got := make([]byte, len(data))
	readChunks(t, v, got)
	if !bytes.Equal(got, data) {
		t.Errorf("volume: %s", firstDiff(got, data))
	}
	if used := s.usedBlocks(); used != after {
		t.Errorf("UsedBlocks = %d after restoring and deleting volumes, want %d", used, after)
	}
	s.checkAccounting("end")
}

// TestSnapshotCrashConsistentUnderWrites: writers write their own blocks,
// each write a whole block stamped (writer, sequence, block); snapshots are
// taken meanwhile. Every block of a snapshot must be one complete write (or
// zeros if never written), and every write acknowledged before
// CreateSnapshot was called must be in it (or overwritten by a later one).
func TestSnapshotCrashConsistentUnderWrites(t *testing.T) {
	const writers, perWriter, snapshots = 4, 32, 3
	s := newStack(t)
	id := s.createVolume(1, true, "")
	v := s.attach(id)

	var mu sync.Mutex
	acked := map[uint64]uint64{}      // block -> sequence of the last acknowledged write
	issued := make([]uint64, writers) // sequence of each writer's last write started
	done := make([]int, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				n := 1 + int(seq%3) // runs of 1-3 blocks
				first := uint64(w*perWriter) + (seq*7)%uint64(perWriter-n+1)
				p := make([]byte, n*bs)
				for i := range n {
					stamp(p[i*bs:(i+1)*bs], uint64(w), seq, first+uint64(i))
				}
				mu.Lock()
				issued[w] = seq
				mu.Unlock()
				if _, err := v.WriteAt(p, int64(first)*bs); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i := range uint64(n) {
					acked[first+i] = seq
				}
				done[w]++
				mu.Unlock()
			}
		}()
	}
	waitWrites := func(n int) {
		for {
			mu.Lock()
			least := slices.Min(done)
			mu.Unlock()
			if least >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	type taken struct {
		id     string
		before map[uint64]uint64
	}
	var snaps []taken
	for i := range snapshots {
		waitWrites(20 * (i + 1))
		mu.Lock()
		before := make(map[uint64]uint64, len(acked))
		for k, v := range acked {
			before[k] = v
		}
		mu.Unlock()
		snaps = append(snaps, taken{s.snapshot(id), before})
	}
	waitWrites(20 * (snapshots + 1))
	close(stop)
	wg.Wait()

	buf := make([]byte, writers*perWriter*bs)
	for _, sn := range snaps {
		got := s.readSnapshot(sn.id, buf)
		for lba := uint64(0); lba < writers*perWriter; lba++ {
			b := got[lba*bs : (lba+1)*bs]
			w, seq, at, ok := parseStamp(b)
			switch {
			case !ok && bytes.Equal(b, make([]byte, bs)):
				if sn.before[lba] != 0 {
					t.Errorf("%s: block %d is empty, but write %d was acknowledged before the snapshot", sn.id, lba, sn.before[lba])
				}
			case !ok:
				t.Errorf("%s: block %d is torn (not one complete write)", sn.id, lba)
			case at != lba || w != lba/perWriter || seq > issued[w]:
				t.Errorf("%s: block %d holds writer %d's write %d of block %d", sn.id, lba, w, seq, at)
			case seq < sn.before[lba]:
				t.Errorf("%s: block %d holds write %d, but write %d was acknowledged before the snapshot", sn.id, lba, seq, sn.before[lba])
			}
		}
	}
	// The head holds the last acknowledged write of every block.
	readChunks(t, v, buf)
	for lba, seq := range acked {
		if _, got, _, ok := parseStamp(buf[lba*bs : (lba+1)*bs]); !ok || got != seq {
			t.Errorf("volume block %d: write %d (ok %v), want %d", lba, got, ok, seq)
		}
	}
	s.checkAccounting("end")
}

func stamp(b []byte, w, seq, lba uint64) {
	for i := 0; i < len(b); i += 32 {
		binary.LittleEndian.PutUint64(b[i:], w+1)
		binary.LittleEndian.PutUint64(b[i+8:], seq)
		binary.LittleEndian.PutUint64(b[i+16:], lba)
		binary.LittleEndian.PutUint64(b[i+24:], uint64(i))
	}
}

func parseStamp(b []byte) (w, seq, lba uint64, ok bool) {
	w1, seq, lba := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
	if w1 == 0 {
		return 0, 0, 0, false
	}
	want := make([]byte, len(b))
	stamp(want, w1-1, seq, lba)
	return w1 - 1, seq, lba, bytes.Equal(b, want)
}

// TestSnapshotCostDoesNotScaleWithSize: a snapshot of a 100 GiB volume with
// a few MiB written costs what one of a 1 GiB volume does: the same
// metadata writes, no block copied, and no per-block memory.
func TestSnapshotCostDoesNotScaleWithSize(t *testing.T) {
	s := newStack(t)
	type cost struct {
		keys  int
		slots uint64
		alloc uint64
	}
	measure := func(sizeGiB int64) cost {
		id := s.createVolume(sizeGiB, true, "")
		v := s.attach(id)
		p := fill(1, 0, 1<<20)
		for off := 0; off < 4<<20; off += len(p) {
			writeAt(t, v, p, off)
		}
		writeAt(t, v, p[:bs], int(sizeGiB<<30-bs)) // and the last block
		if err := v.Sync(); err != nil {
			t.Fatal(err)
		}
		keys, used := s.metaKeys(), s.usedBlocks()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s.snapshot(id)
		runtime.ReadMemStats(&m1)
		c := cost{keys: diffKeys(keys, s.metaKeys()), slots: s.usedBlocks() - used, alloc: m1.TotalAlloc - m0.TotalAlloc}
		t.Logf("%d GiB: %d metadata keys written, %d slots taken, %d KiB allocated", sizeGiB, c.keys, c.slots, c.alloc>>10)
		return c
	}
	small, large := measure(1), measure(100)
	if small.keys != large.keys || large.keys > 4 {
		t.Errorf("a snapshot wrote %d metadata keys for 1 GiB and %d for 100 GiB; want the same few", small.keys, large.keys)
	}
	if small.slots != 0 || large.slots != 0 {
		t.Errorf("a snapshot took %d slots (1 GiB) and %d (100 GiB); want none", small.slots, large.slots)
	}
	// A walk over every block of 100 GiB would allocate hundreds of MiB.
	if large.alloc > 32<<20 {
		t.Errorf("a snapshot of a 100 GiB volume allocated %d MiB", large.alloc>>20)
	}
}

// metaKeys is every key and value of the metadata DB.
func (s *stack) metaKeys() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	err := s.meta.View(func(tx *kv.Txn) error {
		return tx.Scan(nil, nil, func(k, v []byte) error { out[string(k)] = string(v); return nil })
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func diffKeys(a, b map[string]string) int {
	n := 0
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			n++
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			n++
		}
	}
	return n
}

// bigSnapshot is a snapshot of an encrypted volume with mib MiB written, so
// that a re-encrypting copy of it takes a while; and its first bytes.
func bigSnapshot(t *testing.T, s *stack, mib int) (snapID string, head []byte) {
	t.Helper()
	id := s.createVolume(1, true, "")
	v := s.attach(id)
	p := fill(7, 0, 1<<20)
	for off := 0; off < mib<<20; off += len(p) {
		writeAt(t, v, p, off)
	}
	snapID = s.snapshot(id)
	s.detach(id)
	s.deleteVolume(id)
	return snapID, p
}

// waitNoCopies waits until no copy runs in the background.
func (s *stack) waitNoCopies() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for s.snaps.run.copies() > 0 {
		if time.Now().After(deadline) {
			s.t.Fatal("copies still running after a minute")
		}
		time.Sleep(time.Millisecond)
	}
}
