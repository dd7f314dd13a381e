package store

import (
	"os"
	"slices"
	"testing"
)

const testBlocks = 1 << 18 // a 1 GiB lineage: thin, only written blocks cost

// newHead makes a lineage without a parent, pins its head as a volume does,
// and opens it at generation 1.
func newHead(t testing.TB, s *Store, blocks uint64) *Lineage {
	t.Helper()
	id, err := s.NewLineage(0, 0)
	must(t, err)
	must(t, s.Pin(id, HeadGen, "head"))
	l, err := s.OpenLineage(id, 1, blocks)
	must(t, err)
	return l
}

func TestWriteReadDiscardReopen(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	id := l.ID()
	want := map[uint64][]byte{}
	put := func(lba, tag uint64) {
		t.Helper()
		writeBlock(t, l, lba, pattern(tag, lba))
		want[lba] = pattern(tag, lba)
	}
	put(0, 1)
	put(1, 1)
	put(5, 1)
	put(4095, 1) // the last entry of the first table chunk
	put(4096, 1) // the first of the second
	put(testBlocks-1, 1)
	run := make([]byte, 0, 10*BlockSize) // one call, ten blocks
	for lba := uint64(100); lba < 110; lba++ {
		run = append(run, pattern(2, lba)...)
		want[lba] = pattern(2, lba)
	}
	must(t, l.WriteBlocks(100, run))
	all := []uint64{0, 1, 2, 5, 99, 100, 101, 102, 103, 104, 109, 110, 4095, 4096, 4097, testBlocks - 1}
	wantBlocks(t, "after writes", l, want, all...)

	// A read of several blocks, mapped and not, in one call.
	buf := make([]byte, 8*BlockSize)
	mapped := make([]bool, 8)
	must(t, l.ReadBlocks(98, buf, mapped))
	if want := []bool{false, false, true, true, true, true, true, true}; !slices.Equal(mapped, want) {
		t.Errorf("mapped = %v, want %v", mapped, want)
	}
	for i := range 8 {
		w := want[98+uint64(i)]
		if w == nil {
			w = zeroBlock
		}
		if !slices.Equal(buf[i*BlockSize:(i+1)*BlockSize], w) {
			t.Errorf("multi-block read: block %d wrong", 98+i)
		}
	}
	if err := l.ReadBlocks(testBlocks-1, make([]byte, 2*BlockSize), make([]bool, 2)); err == nil {
		t.Error("a read past the end succeeded")
	}
	if err := l.WriteBlocks(testBlocks, pattern(1, 0)); err == nil {
		t.Error("a write past the end succeeded")
	}

	put(1, 3) // in place: generation 1, no snapshot
	must(t, l.Discard(101, 3))
	must(t, l.Discard(5, 1))
	must(t, l.Discard(7, 1)) // never written
	delete(want, 101)
	delete(want, 102)
	delete(want, 103)
	delete(want, 5)
	put(102, 4)
	wantBlocks(t, "after discards", l, want, all...)
	ts.checkAccounting("after discards")
	if got, n := ts.s.UsedBlocks(), uint64(len(want)); got != n {
		t.Errorf("UsedBlocks = %d, want %d (one per block holding data)", got, n)
	}

	must(t, l.Close())
	ts.reopen()
	l, err := ts.s.OpenLineage(id, 1, testBlocks)
	must(t, err)
	wantBlocks(t, "after reopen", l, want, all...)
	ts.checkAccounting("after reopen")

	must(t, l.Discard(0, 2))
	delete(want, 0)
	delete(want, 1)
	must(t, l.Close())
	ts.reopen()
	l, err = ts.s.OpenLineage(id, 1, testBlocks)
	must(t, err)
	wantBlocks(t, "after discard and reopen", l, want, all...)
	ts.checkAccounting("after discard and reopen")
	must(t, l.Close())

	must(t, ts.s.Unpin(id, HeadGen, "head"))
	ts.checkAccounting("after unpin")
	if got := ts.s.UsedBlocks(); got != 0 {
		t.Errorf("UsedBlocks = %d after the only pin went, want 0", got)
	}
	for _, p := range []byte{mapPrefix, changePrefix, pinPrefix, lineageRecPrefix} {
		if n := ts.keysWithPrefix(p); n != 0 {
			t.Errorf("%d %q keys left after the lineage went", n, p)
		}
	}
}

func TestGenerations(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	id := l.ID()
	writeBlock(t, l, 0, pattern(1, 0))
	writeBlock(t, l, 1, pattern(1, 1))
	g1 := freeze(t, ts.s, l, "snap-1")
	if g1 != 1 {
		t.Fatalf("froze generation %d, want 1", g1)
	}
	writeBlock(t, l, 0, pattern(2, 0)) // copy on write: block 0 is in snap-1
	if got := ts.s.UsedBlocks(); got != 3 {
		t.Errorf("UsedBlocks = %d after a write to a shared block, want 3", got)
	}
	writeBlock(t, l, 0, pattern(3, 0)) // in place: born in generation 2
	if got := ts.s.UsedBlocks(); got != 3 {
		t.Errorf("UsedBlocks = %d after a rewrite in the same generation, want 3 (in place)", got)
	}
	must(t, l.Discard(1, 1)) // hides the shared block, frees nothing
	if got := ts.s.UsedBlocks(); got != 3 {
		t.Errorf("UsedBlocks = %d after discarding a shared block, want 3", got)
	}
	head := map[uint64][]byte{0: pattern(3, 0)}
	old := map[uint64][]byte{0: pattern(1, 0), 1: pattern(1, 1)}
	wantBlocks(t, "head", l, head, 0, 1, 2)
	must(t, ts.s.Flush())
	v, err := ts.s.OpenView(id, g1, testBlocks)
	must(t, err)
	wantBlocks(t, "view at 1", v, old, 0, 1, 2)

	must(t, l.Close())
	ts.reopen()
	l, err = ts.s.OpenLineage(id, 2, testBlocks)
	must(t, err)
	wantBlocks(t, "head after reopen", l, head, 0, 1, 2)
	v, err = ts.s.OpenView(id, g1, testBlocks)
	must(t, err)
	wantBlocks(t, "view at 1 after reopen", v, old, 0, 1, 2)
	writeBlock(t, l, 0, pattern(4, 0)) // still generation 2: in place
	head[0] = pattern(4, 0)
	if got := ts.s.UsedBlocks(); got != 3 {
		t.Errorf("UsedBlocks = %d after a rewrite in generation 2 after reopen, want 3", got)
	}
	g2 := freeze(t, ts.s, l, "snap-2")
	writeBlock(t, l, 0, pattern(5, 0))
	writeBlock(t, l, 1, pattern(5, 1))
	must(t, ts.s.Flush())
	v2, err := ts.s.OpenView(id, g2, testBlocks)
	must(t, err)
	wantBlocks(t, "view at 2", v2, map[uint64][]byte{0: pattern(4, 0)}, 0, 1)
	wantBlocks(t, "view at 1, later", v, old, 0, 1)
	wantBlocks(t, "head at 3", l, map[uint64][]byte{0: pattern(5, 0), 1: pattern(5, 1)}, 0, 1)
	ts.checkAccounting("end")
	must(t, l.Close())
}

// threeSnapshots builds the history the unpin tests use:
//
//	gen 1: blocks 0-9 written (tag 1)          -> snap-1
//	gen 2: 0-2 rewritten, 10-11 new, 3 discarded -> snap-2
//	gen 3: 0 and 10 rewritten, 11 discarded      -> snap-3
//	gen 4 (head): 1 rewritten
func threeSnapshots(t *testing.T, ts *testStore) (l *Lineage, views [3]map[uint64][]byte, head map[uint64][]byte) {
	t.Helper()
	l = newHead(t, ts.s, testBlocks)
	cur := map[uint64][]byte{}
	put := func(tag uint64, lbas ...uint64) {
		for _, lba := range lbas {
			writeBlock(t, l, lba, pattern(tag, lba))
			cur[lba] = pattern(tag, lba)
		}
	}
	discard := func(lba uint64) {
		must(t, l.Discard(lba, 1))
		delete(cur, lba)
	}
	put(1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	freeze(t, ts.s, l, "snap-1")
	views[0] = clone(cur)
	put(2, 0, 1, 2, 10, 11)
	discard(3)
	freeze(t, ts.s, l, "snap-2")
	views[1] = clone(cur)
	put(3, 0, 10)
	discard(11)
	freeze(t, ts.s, l, "snap-3")
	views[2] = clone(cur)
	put(4, 1)
	must(t, ts.s.Flush())
	return l, views, cur
}

func clone(m map[uint64][]byte) map[uint64][]byte {
	out := make(map[uint64][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var threeSnapshotBlocks = []uint64{0, 1, 2, 3, 4, 9, 10, 11, 12}

func checkViews(t *testing.T, ts *testStore, what string, l *Lineage, views map[uint64]map[uint64][]byte, head map[uint64][]byte) {
	t.Helper()
	for gen, want := range views {
		v, err := ts.s.OpenView(l.ID(), gen, testBlocks)
		must(t, err)
		wantBlocks(t, what+": view", v, want, threeSnapshotBlocks...)
	}
	if head != nil {
		wantBlocks(t, what+": head", l, head, threeSnapshotBlocks...)
	}
}

func TestUnpinFreesExactlyUniqueSlots(t *testing.T) {
	ts := newTestStore(t)
	l, views, head := threeSnapshots(t, ts)
	id := l.ID()
	live := map[uint64]map[uint64][]byte{1: views[0], 2: views[1], 3: views[2]}
	checkViews(t, ts, "before", l, live, head)
	ts.checkAccounting("before")

	// snap-2 alone holds blocks 0 and 10 (rewritten in gen 3) and 11
	// (discarded in gen 3); 1 and 2 are still seen by snap-3.
	steps := []struct {
		gen    uint64
		holder string
		unique uint64
	}{
		{2, "snap-2", 3},
		{1, "snap-1", 4}, // 0, 1, 2 rewritten by gen 2, 3 discarded in gen 2
		{HeadGen, "head", 1},
		{3, "snap-3", 10}, // 0, 1, 2, 4-9, 10
	}
	for _, st := range steps {
		u, err := ts.s.UniqueBytes(id, st.gen)
		must(t, err)
		if u != int64(st.unique*BlockSize) {
			t.Errorf("UniqueBytes(%s) = %d blocks, want %d", st.holder, u/BlockSize, st.unique)
		}
		if st.gen == HeadGen {
			must(t, l.Close())
			head = nil
		}
		before := ts.s.UsedBlocks()
		must(t, ts.s.Unpin(id, st.gen, st.holder))
		ts.checkAccounting("after unpin " + st.holder)
		if got := before - ts.s.UsedBlocks(); got != st.unique {
			t.Errorf("unpin %s freed %d slots, want %d", st.holder, got, st.unique)
		}
		delete(live, st.gen)
		checkViews(t, ts, "after unpin "+st.holder, l, live, head)
	}
	if got := ts.s.UsedBlocks(); got != 0 {
		t.Errorf("UsedBlocks = %d with no pin left, want 0", got)
	}
	for _, p := range []byte{mapPrefix, changePrefix, pinPrefix, lineageRecPrefix} {
		if n := ts.keysWithPrefix(p); n != 0 {
			t.Errorf("%d %q keys left after the lineage went", n, p)
		}
	}
}

func TestUnpinOneOfTwoHoldersFreesNothing(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	writeBlock(t, l, 0, pattern(1, 0))
	must(t, l.Freeze(func(gen uint64) error {
		return errorsJoin(ts.s.Pin(l.ID(), gen, "snap-a"), ts.s.Pin(l.ID(), gen, "snap-b"))
	}))
	writeBlock(t, l, 0, pattern(2, 0))
	before := ts.s.UsedBlocks()
	must(t, ts.s.Unpin(l.ID(), 1, "snap-a"))
	must(t, ts.s.Flush())
	if got := ts.s.UsedBlocks(); got != before {
		t.Errorf("unpin of one of two holders freed %d slots", before-got)
	}
	v, err := ts.s.OpenView(l.ID(), 1, testBlocks)
	must(t, err)
	wantBlocks(t, "view still pinned by snap-b", v, map[uint64][]byte{0: pattern(1, 0)}, 0)
	must(t, ts.s.Unpin(l.ID(), 1, "snap-b"))
	must(t, ts.s.Flush()) // freed slots count as used until the next commit
	if got := ts.s.UsedBlocks(); got != before-1 {
		t.Errorf("UsedBlocks = %d after the last holder went, want %d", got, before-1)
	}
	wantBlocks(t, "head", l, map[uint64][]byte{0: pattern(2, 0)}, 0)
	must(t, l.Close())
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestParentViewReadThrough(t *testing.T) {
	ts := newTestStore(t)
	parent := newHead(t, ts.s, testBlocks)
	pid := parent.ID()
	for lba := uint64(0); lba < 4; lba++ {
		writeBlock(t, parent, lba, pattern(1, lba))
	}
	snap := freeze(t, ts.s, parent, "snap-p")
	writeBlock(t, parent, 0, pattern(2, 0)) // after the snapshot: not seen by the child
	must(t, ts.s.Flush())

	cid, err := ts.s.NewLineage(pid, snap)
	must(t, err)
	must(t, ts.s.Pin(cid, HeadGen, "head"))
	child, err := ts.s.OpenLineage(cid, 1, 2*testBlocks) // a larger volume
	must(t, err)
	want := map[uint64][]byte{0: pattern(1, 0), 1: pattern(1, 1), 2: pattern(1, 2), 3: pattern(1, 3)}
	lbas := []uint64{0, 1, 2, 3, 4, testBlocks + 1}
	wantBlocks(t, "child", child, want, lbas...)
	if got := child.MappedBlocks(); got != 4 {
		t.Errorf("child MappedBlocks = %d, want 4", got)
	}

	writeBlock(t, child, 1, pattern(10, 1)) // copy on write: the parent's slot stays
	want[1] = pattern(10, 1)
	writeBlock(t, child, 1, pattern(11, 1)) // then in place
	want[1] = pattern(11, 1)
	must(t, child.Discard(2, 1)) // hides the parent's block
	delete(want, 2)
	writeBlock(t, child, testBlocks+1, pattern(10, testBlocks+1))
	want[testBlocks+1] = pattern(10, testBlocks+1)
	wantBlocks(t, "child after writes", child, want, lbas...)
	pv, err := ts.s.OpenView(pid, snap, testBlocks)
	must(t, err)
	parentSnap := map[uint64][]byte{0: pattern(1, 0), 1: pattern(1, 1), 2: pattern(1, 2), 3: pattern(1, 3)}
	wantBlocks(t, "parent's snapshot after child writes", pv, parentSnap, 0, 1, 2, 3)
	wantBlocks(t, "parent head", parent, map[uint64][]byte{0: pattern(2, 0), 1: pattern(1, 1), 2: pattern(1, 2), 3: pattern(1, 3)}, 0, 1, 2, 3)
	ts.checkAccounting("child written")

	// A grandchild made from a snapshot of the child sees through both.
	cs := freeze(t, ts.s, child, "snap-c")
	gid, err := ts.s.NewLineage(cid, cs)
	must(t, err)
	must(t, ts.s.Pin(gid, HeadGen, "head"))
	grand, err := ts.s.OpenLineage(gid, 1, 2*testBlocks)
	must(t, err)
	wantBlocks(t, "grandchild", grand, want, lbas...)
	must(t, grand.Close())

	must(t, child.Close())
	must(t, parent.Close())
	ts.reopen()
	child, err = ts.s.OpenLineage(cid, 2, 2*testBlocks)
	must(t, err)
	wantBlocks(t, "child after reopen", child, want, lbas...)
	ts.checkAccounting("after reopen")

	// The parent volume and its snapshot go: the child's pin keeps the view.
	must(t, ts.s.Unpin(pid, HeadGen, "head"))
	must(t, ts.s.Unpin(pid, snap, "snap-p"))
	wantBlocks(t, "child after the parent went", child, want, lbas...)
	ts.checkAccounting("parent gone")
	// The child's pin keeps the parent's whole view at snap (blocks 0-3,
	// 1 included though the child replaced it); the child holds 2 of its own.
	if got := ts.s.UsedBlocks(); got != 4+2 {
		t.Errorf("UsedBlocks = %d with the parent gone, want 6", got)
	}
	must(t, child.Close())
	must(t, ts.s.Unpin(gid, HeadGen, "head"))
	must(t, ts.s.Unpin(cid, cs, "snap-c"))
	must(t, ts.s.Unpin(cid, HeadGen, "head"))
	ts.checkAccounting("all gone")
	if got := ts.s.UsedBlocks(); got != 0 {
		t.Errorf("UsedBlocks = %d with every lineage gone, want 0", got)
	}
	for _, p := range []byte{mapPrefix, changePrefix, pinPrefix, lineageRecPrefix} {
		if n := ts.keysWithPrefix(p); n != 0 {
			t.Errorf("%d %q keys left after every lineage went", n, p)
		}
	}
}

func TestChangedBetweenGenerations(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	for _, lba := range []uint64{0, 1, 2, 300} {
		writeBlock(t, l, lba, pattern(1, lba))
	}
	g1 := freeze(t, ts.s, l, "snap-1")
	for _, lba := range []uint64{1, 5, 200} {
		writeBlock(t, l, lba, pattern(2, lba))
	}
	writeBlock(t, l, 5, pattern(3, 5)) // twice in one generation
	must(t, l.Discard(300, 1))
	g2 := freeze(t, ts.s, l, "snap-2")
	var got []uint64
	must(t, ts.s.Changed(l.ID(), g1, g2, func(lba uint64) { got = append(got, lba) }))
	slices.Sort(got)
	if want := []uint64{1, 5, 200, 300}; !slices.Equal(got, want) {
		t.Errorf("Changed(1, 2) = %v, want %v", got, want)
	}
	got = nil
	must(t, ts.s.Changed(l.ID(), 0, g1, func(lba uint64) { got = append(got, lba) }))
	slices.Sort(got)
	if want := []uint64{0, 1, 2, 300}; !slices.Equal(got, want) {
		t.Errorf("Changed(0, 1) = %v, want %v", got, want)
	}
	must(t, l.Close())
}

// TestCrashOrphansSlots: blocks written but never flushed are not in the
// map after a crash; their slots are free again, and a discard that was not
// committed never lets its slot be reused under the old map entry.
func TestCrashOrphansSlots(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	id := l.ID()
	writeBlock(t, l, 0, pattern(1, 0))
	writeBlock(t, l, 1, pattern(1, 1))
	must(t, ts.s.Flush())
	oldSlot, _ := l.head.get(1)

	writeBlock(t, l, 2, pattern(1, 2)) // never flushed: orphaned by the crash
	writeBlock(t, l, 3, pattern(1, 3))
	must(t, l.Discard(1, 1)) // not committed: block 1 must keep its data
	writeBlock(t, l, 4, pattern(1, 4))
	if e, _ := l.head.get(4); e.slot == oldSlot.slot {
		t.Fatalf("block 4 reused slot %d, freed by a discard that is not committed yet", e.slot)
	}
	ts.crash()
	ts.open()
	if got := ts.s.UsedBlocks(); got != 2 {
		t.Errorf("UsedBlocks = %d after the crash, want 2 (the orphans are free)", got)
	}
	l, err := ts.s.OpenLineage(id, 1, testBlocks)
	must(t, err)
	wantBlocks(t, "after crash", l, map[uint64][]byte{0: pattern(1, 0), 1: pattern(1, 1)}, 0, 1, 2, 3, 4)
	for lba := uint64(10); lba < 20; lba++ { // reuses the orphans
		writeBlock(t, l, lba, pattern(2, lba))
	}
	wantBlocks(t, "after crash and writes", l, map[uint64][]byte{0: pattern(1, 0), 1: pattern(1, 1), 10: pattern(2, 10), 19: pattern(2, 19)}, 0, 1, 10, 19)
	ts.checkAccounting("after crash")
	must(t, l.Close())
}

// TestFreedSlotReusedOnlyAfterCommit: a slot freed by a discard or an unpin
// is taken again only once the map change that freed it is durable.
func TestFreedSlotReusedOnlyAfterCommit(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	writeBlock(t, l, 0, pattern(1, 0))
	must(t, ts.s.Flush())
	e0, _ := l.head.get(0)
	must(t, l.Discard(0, 1))
	writeBlock(t, l, 1, pattern(1, 1))
	if e1, _ := l.head.get(1); e1.slot == e0.slot {
		t.Errorf("slot %d reused before the discard that freed it was committed", e0.slot)
	}
	must(t, ts.s.Flush())
	writeBlock(t, l, 2, pattern(1, 2))
	if e2, _ := l.head.get(2); e2.slot != e0.slot {
		t.Logf("slot %d not reused after commit (got %d): allowed, but the allocator takes the lowest", e0.slot, e2.slot)
	}
	ts.checkAccounting("end")
	must(t, l.Close())
}

// TestAllocatePreallocatesEveryRunSlot: allocate promises disk space behind
// every slot it returns (so that a full disk fails a write with ErrNoSpace
// before any data is written). A run that crosses the end of the
// preallocated part of an extent must grow it to the run's end.
func TestAllocatePreallocatesEveryRunSlot(t *testing.T) {
	ts := newTestStore(t)
	const n = growStep/BlockSize + 100 // one run, longer than one growth step
	slots, err := ts.s.allocate(n)
	must(t, err)
	last := slices.Max(slots)
	ext, off := locate(last)
	fi, err := os.Stat(ts.s.ext.path(ext))
	must(t, err)
	if end := off + BlockSize; fi.Size() < end || ts.s.ext.file(ext).alloc < end {
		t.Errorf("allocate(%d): slot %d ends at byte %d of extent %d, but only %d bytes are preallocated (file size %d)",
			n, last, end, ext, ts.s.ext.file(ext).alloc, fi.Size())
	}
	ts.s.alloc.release(slots)
}

// TestDiscardAfterSnapshotDeletedFreesSlot: Discard promises that "slots no
// snapshot shares are freed". Once the only snapshot of a block is gone, a
// discard (or an overwrite) of that block must not keep its old slot.
func TestDiscardAfterSnapshotDeletedFreesSlot(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	writeBlock(t, l, 0, pattern(1, 0))
	writeBlock(t, l, 1, pattern(1, 1))
	g := freeze(t, ts.s, l, "snap-1")
	must(t, ts.s.Unpin(l.ID(), g, "snap-1")) // no snapshot shares blocks 0, 1 now
	must(t, l.Discard(0, 1))
	writeBlock(t, l, 1, pattern(2, 1))
	ts.checkAccounting("after discard and overwrite")
	if got := ts.s.UsedBlocks(); got != 1 {
		t.Errorf("UsedBlocks = %d, want 1: the volume holds one block and no snapshot is left", got)
	}
	must(t, l.Close())
}
