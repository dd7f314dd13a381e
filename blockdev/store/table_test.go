package store

import (
	"slices"
	"testing"
)

// TestTableSparse: a table of the largest volume (16 TiB, 2^32 blocks)
// keeps entries at the edges of chunks and directories, reads them back,
// lists them in block order and removes them, and holds only the
// directories and chunks written.
func TestTableSparse(t *testing.T) {
	const blocks = 1 << 32
	tb := newTable(blocks)
	lbas := []uint64{0, 1<<chunkBits - 1, 1 << chunkBits, 1<<(chunkBits+dirBits) - 1, 1 << (chunkBits + dirBits), blocks - 1}
	for i, lba := range lbas {
		tb.set(lba, entry{slot: uint64(i) + 1, birth: 1})
	}
	var got []uint64
	tb.each(func(lba uint64, e entry) {
		got = append(got, lba)
		if want := uint64(slices.Index(lbas, lba)) + 1; e.slot != want {
			t.Errorf("block %d: slot %d, want %d", lba, e.slot, want)
		}
	})
	if !slices.Equal(got, lbas) {
		t.Fatalf("each listed %v, want %v", got, lbas)
	}
	for _, lba := range []uint64{2, 1 << 20, blocks - 2} {
		if _, ok := tb.get(lba); ok {
			t.Errorf("block %d was never set but has an entry", lba)
		}
	}
	dirs, chunks := 0, 0
	for _, d := range tb.dirs {
		if d == nil {
			continue
		}
		dirs++
		for _, c := range d {
			if c != nil {
				chunks++
			}
		}
	}
	if len(tb.dirs) != 1024 || dirs != 3 || chunks != 5 {
		t.Fatalf("%d directories (%d allocated), %d chunks; want 1024 (3), 5", len(tb.dirs), dirs, chunks)
	}
	tb.remove(blocks - 1)
	if _, ok := tb.get(blocks - 1); ok {
		t.Fatal("the last block still has an entry after remove")
	}
}
